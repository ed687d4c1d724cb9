#include "model/activations.h"

#include <functional>

#include "model/fused_activations_bf16.h"

namespace untwist {

namespace {

// f applied in place to float32 copies of x in pieces of 256k values (1 MiB,
// which stay in cache from the first pass to the last), written into a tensor
// of x's dtype: no whole-size float32 temporaries, which at FLUX's MLP width
// and 4096 tokens are 0.2 GiB each. Not for autograd (the passes are in place).
at::Tensor in_float32_pieces(const at::Tensor& x, const std::function<void(at::Tensor&, const at::Tensor&)>& f) {
  constexpr int64_t kPiece = int64_t{1} << 18;
  const at::Tensor flat = x.contiguous().view({-1});
  at::Tensor out = at::empty(x.sizes(), x.options().memory_format(at::MemoryFormat::Contiguous));
  const at::Tensor out_flat = out.view({-1});
  for (int64_t i = 0; i < flat.numel(); i += kPiece) {
    const int64_t length = std::min(kPiece, flat.numel() - i);
    const at::Tensor wide = flat.narrow(0, i, length).to(at::kFloat);
    at::Tensor result = wide.clone();
    f(result, wide);
    out_flat.narrow(0, i, length).copy_(result);
  }
  return out;
}

bool records_gradient(const at::Tensor& x) { return at::GradMode::is_enabled() && x.requires_grad(); }

}  // namespace

at::Tensor gelu_tanh(const at::Tensor& x) {
  if (fused_bf16_activation_runs(x)) return fused_bf16_activation(x, Activation::GeluTanh);
  if (records_gradient(x)) {
    const at::Tensor wide = x.to(at::kFloat);
    return (wide * at::sigmoid(wide * (wide * wide * kGeluB + kGeluA))).to(x.scalar_type());
  }
  return in_float32_pieces(x, [](at::Tensor& y, const at::Tensor& wide) {
    y.mul_(wide).mul_(kGeluB).add_(kGeluA).mul_(wide).sigmoid_().mul_(wide);
  });
}

at::Tensor silu_float32(const at::Tensor& x) {
  if (fused_bf16_activation_runs(x)) return fused_bf16_activation(x, Activation::Silu);
  if (records_gradient(x)) return at::silu(x.to(at::kFloat)).to(x.scalar_type());
  return in_float32_pieces(x, [](at::Tensor& y, const at::Tensor&) { at::silu_(y); });
}

}  // namespace untwist
