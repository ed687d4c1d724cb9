// Per-dimension scales for the reference image's keys (METHOD section 2):
// within a row or column axis a (n_a = D_a/2 pairs, pair 0 the highest
// frequency), s(j) = s_hf + (s_lf - s_hf) * (j / (n_a - 1))^beta, both
// coordinates of a pair alike; index and sequence axes (METHOD section 8) are
// s_lf throughout ("flat") or ramp like the spatial axes ("match").
#pragma once
#include <ATen/ATen.h>

#include "model/rope.h"

namespace untwist {

enum class Axis0Mode { Flat, Match };

// -> [sum(axes_dim)] float32, in the head-dimension order RoPE uses.
at::Tensor key_scale_vector(const RopeLayout& rope, double s_hf, double s_lf, double beta, Axis0Mode axis0);

}  // namespace untwist
