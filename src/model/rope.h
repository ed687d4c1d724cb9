// Rotary position embedding over several position axes (FLUX's EmbedND) and
// the sinusoidal timestep embedding.
#pragma once
#include <ATen/ATen.h>

#include <string>
#include <vector>

namespace untwist {

// What each RoPE axis of a family means: an index axis has one coordinate for
// every token of an image (FLUX.1's axis 0, FLUX.2's t), row and column axes
// place image tokens on their grid, a sequence axis numbers text tokens
// (FLUX.2's l).
enum class AxisRole { Index, Row, Column, Sequence };

struct RopeLayout {
  std::vector<int64_t> axes_dim;  // dimensions per axis, summing to the head dim
  std::vector<AxisRole> roles;    // one per axis
  double theta = 10000;

  // The axis with this role; -1 when there is none.
  int axis(AxisRole role) const;
};

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
