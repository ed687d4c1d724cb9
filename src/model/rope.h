// Rotary position embedding over several position axes (FLUX's EmbedND) and
// the sinusoidal timestep embedding.
#pragma once
#include <ATen/ATen.h>

#include <vector>

namespace untwist {

// ids: [B, L, n_axes] positions -> [B, 1, L, sum(axes_dim)/2, 2, 2] float32
// rotation matrices [[cos, -sin], [sin, cos]] per pair; axis a contributes
// axes_dim[a]/2 pairs with frequencies theta^(-2j/axes_dim[a]).
at::Tensor rope_table(const at::Tensor& ids, const std::vector<int64_t>& axes_dim, double theta);

// x: [B, H, L, D], pe: [B, 1, L, D/2, 2, 2] -> [B, H, L, D] rotated pair by
// pair, computed in float32 and returned in x's dtype.
at::Tensor apply_rope(const at::Tensor& x, const at::Tensor& pe);

// t: [N] -> [N, dim], cosines then sines of (time_factor * t) * exp(-ln(max_period) k / (dim/2)).
at::Tensor timestep_embedding(const at::Tensor& t, int64_t dim, double max_period = 10000.0,
                              double time_factor = 1000.0);

}  // namespace untwist
