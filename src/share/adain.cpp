#include "share/adain.h"

namespace untwist {

namespace {

std::pair<at::Tensor, at::Tensor> channel_stats(const at::Tensor& x) {
  const at::Tensor wide = x.to(at::kFloat);
  return {wide.mean(-2, /*keepdim=*/true), (wide.var(-2, /*unbiased=*/true, /*keepdim=*/true) + 1e-5).sqrt()};
}

}  // namespace

at::Tensor adain(const at::Tensor& x, const at::Tensor& reference) {
  const auto [mean, std] = channel_stats(x);
  const auto [ref_mean, ref_std] = channel_stats(reference);
  return ((x.to(at::kFloat) - mean) / std * ref_std + ref_mean).to(x.scalar_type());
}

at::Tensor blend_adain(const at::Tensor& x, const at::Tensor& reference, double alpha) {
  if (alpha == 0.0) return x;
  if (alpha == 1.0) return adain(x, reference);
  return (1.0 - alpha) * x + alpha * adain(x, reference);
}

}  // namespace untwist
