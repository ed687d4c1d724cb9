#include "model/rope.h"

#include <ATen/Parallel.h>

#include <cmath>
#include <cstdint>

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

namespace {

// One pass over x's rows (each row's values contiguous, the rows strided as
// the fused qkv projection leaves them), float32 inside, a contiguous result.
template <typename T>
at::Tensor rotate_rows(const at::Tensor& x, const at::Tensor& pe) {
  const int64_t batch = x.size(0), heads = x.size(1), length = x.size(2), dim = x.size(3);
  at::Tensor out = at::empty(x.sizes(), x.options().memory_format(at::MemoryFormat::Contiguous));
  const T* in = x.data_ptr<T>();
  T* result = out.data_ptr<T>();
  const float* table = pe.data_ptr<float>();
  const int64_t pe_batch_stride = pe.size(0) == 1 ? 0 : length * dim * 2;
  at::parallel_for(0, batch * heads * length, 256, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int64_t b = row / (heads * length), h = row / length % heads, l = row % length;
      const T* source = in + b * x.stride(0) + h * x.stride(1) + l * x.stride(2);
      T* target = result + row * dim;
      const float* rotation = table + b * pe_batch_stride + l * dim * 2;  // [D/2][2][2]
      for (int64_t i = 0; i < dim / 2; ++i) {
        const float x0 = static_cast<float>(source[2 * i]), x1 = static_cast<float>(source[2 * i + 1]);
        const float* r = rotation + 4 * i;
        target[2 * i] = static_cast<T>(r[0] * x0 + r[1] * x1);  // bfloat16: rounded to nearest even
        target[2 * i + 1] = static_cast<T>(r[2] * x0 + r[3] * x1);
      }
    }
  });
  return out;
}

bool rotates_in_one_pass(const at::Tensor& x, const at::Tensor& pe) {
  if (!x.device().is_cpu() || !pe.device().is_cpu() || x.dim() != 4 || pe.dim() != 6) return false;
  if (x.scalar_type() != at::kFloat && x.scalar_type() != at::kBFloat16) return false;
  if (pe.scalar_type() != at::kFloat || !pe.is_contiguous() || x.stride(3) != 1) return false;
  if (at::GradMode::is_enabled() && (x.requires_grad() || pe.requires_grad())) return false;
  return (pe.size(0) == x.size(0) || pe.size(0) == 1) && pe.size(1) == 1 && pe.size(2) == x.size(2) &&
         pe.size(3) * 2 == x.size(3) && pe.size(4) == 2 && pe.size(5) == 2;
}

}  // namespace

at::Tensor apply_rope(const at::Tensor& x, const at::Tensor& pe) {
  if (rotates_in_one_pass(x, pe)) {
    return x.scalar_type() == at::kFloat ? rotate_rows<float>(x, pe) : rotate_rows<at::BFloat16>(x, pe);
  }
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
