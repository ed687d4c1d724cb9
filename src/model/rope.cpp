#include "model/rope.h"

#include <cmath>

namespace untwist {

int RopeLayout::axis(AxisRole role) const {
  for (size_t a = 0; a < roles.size(); ++a) {
    if (roles[a] == role) return static_cast<int>(a);
  }
  return -1;
}

at::Tensor rope_table(const at::Tensor& ids, const std::vector<int64_t>& axes_dim, double theta) {
  std::vector<at::Tensor> per_axis;
  for (size_t axis = 0; axis < axes_dim.size(); ++axis) {
    const int64_t dim = axes_dim[axis];
    const at::Tensor positions = ids.select(-1, static_cast<int64_t>(axis)).to(at::kDouble);  // [B, L]
    const at::Tensor scale = at::arange(0, dim, 2, at::kDouble) / static_cast<double>(dim);   // [dim/2]
    const at::Tensor omega = 1.0 / at::pow(theta, scale);
    const at::Tensor angles = positions.unsqueeze(-1) * omega;                                 // [B, L, dim/2]
    const at::Tensor cos = at::cos(angles), sin = at::sin(angles);
    per_axis.push_back(at::stack({cos, -sin, sin, cos}, -1));                                 // [B, L, dim/2, 4]
  }
  const at::Tensor table = at::cat(per_axis, -2);                                             // [B, L, D/2, 4]
  return table.reshape({table.size(0), 1, table.size(1), table.size(2), 2, 2}).to(at::kFloat);
}

at::Tensor apply_rope(const at::Tensor& x, const at::Tensor& pe) {
  const at::Tensor pairs = x.to(at::kFloat).reshape({x.size(0), x.size(1), x.size(2), -1, 1, 2});  // [B,H,L,D/2,1,2]
  const at::Tensor rotated = pe.select(-1, 0) * pairs.select(-1, 0) + pe.select(-1, 1) * pairs.select(-1, 1);
  return rotated.reshape(x.sizes()).to(x.scalar_type());                                        // [B, H, L, D]
}

at::Tensor timestep_embedding(const at::Tensor& t, int64_t dim, double max_period, double time_factor) {
  const int64_t half = dim / 2;
  const at::Tensor scaled = t.to(at::kFloat) * time_factor;                                  // [N]
  const at::Tensor freqs = at::exp(-std::log(max_period) * at::arange(0, half, t.options().dtype(at::kFloat)) / static_cast<double>(half));
  const at::Tensor args = scaled.unsqueeze(1) * freqs.unsqueeze(0);                          // [N, half]
  at::Tensor embedding = at::cat({at::cos(args), at::sin(args)}, -1);                        // [N, 2 half]
  if (dim % 2) embedding = at::cat({embedding, at::zeros_like(embedding.narrow(1, 0, 1))}, -1);
  return embedding;
}

}  // namespace untwist
