#include "model/flux2/latent_format.h"

#include <nlohmann/json.hpp>

#include "io/weights.h"
#include "model/autoencoder.h"
#include "util/errors.h"

namespace untwist {

namespace {

constexpr int64_t kPatch = 2;
constexpr double kReferenceBatchNormEps = 1e-4;

double batch_norm_eps(const Weights& weights) {
  const nlohmann::json params = weights.metadata_config();
  for (const char* key : {"bn_eps", "batch_norm_eps"}) {
    if (params.contains(key) && params[key].is_number()) return params[key].get<double>();
  }
  return kReferenceBatchNormEps;
}

// [B, C, 2h, 2w] -> [B, C*4, h, w], channels ordered (c, pi, pj)
at::Tensor patchify(const at::Tensor& x) {
  const int64_t b = x.size(0), c = x.size(1), h = x.size(2) / kPatch, w = x.size(3) / kPatch;
  return x.reshape({b, c, h, kPatch, w, kPatch})  // [B, C, h, pi, w, pj]
      .permute({0, 1, 3, 5, 2, 4})               // [B, C, pi, pj, h, w]
      .reshape({b, c * kPatch * kPatch, h, w});
}

// [B, C*4, h, w] -> [B, C, 2h, 2w]
at::Tensor unpatchify(const at::Tensor& x) {
  const int64_t b = x.size(0), c = x.size(1) / (kPatch * kPatch), h = x.size(2), w = x.size(3);
  return x.reshape({b, c, kPatch, kPatch, h, w})  // [B, C, pi, pj, h, w]
      .permute({0, 1, 4, 2, 5, 3})               // [B, C, h, pi, w, pj]
      .reshape({b, c, h * kPatch, w * kPatch});
}

}  // namespace

Flux2Latents::Flux2Latents(const Weights& weights, int64_t z_channels) : z_channels_(z_channels) {
  const int64_t channels = z_channels * kPatch * kPatch;
  const at::Tensor mean = weights.get("bn.running_mean", {channels}).to(at::kFloat);
  const at::Tensor var = weights.get("bn.running_var", {channels}).to(at::kFloat);
  if ((var < 0).any().item<bool>()) fail_file(weights.source(), "tensor 'bn.running_var' has negative variances");
  running_mean_ = mean.reshape({1, channels, 1, 1});
  running_std_ = at::sqrt(var + batch_norm_eps(weights)).reshape({1, channels, 1, 1});
}

at::Tensor Flux2Latents::encode(const Autoencoder& autoencoder, const at::Tensor& image) const {
  const int64_t multiple = kPatch * autoencoder.downscale();
  if (image.dim() == 4 && (image.size(2) % multiple != 0 || image.size(3) % multiple != 0)) {
    throw InputError("image of shape " + shape_string(image.sizes().vec()) +
                     " does not have H and W multiples of " + std::to_string(multiple) +
                     " (the autoencoder's downscale times the 2x2 latent patches)");
  }
  const at::Tensor z = patchify(autoencoder.posterior_mean(image));  // [B, 4z, H/2f, W/2f]
  return (z - running_mean_.to(z.device())) / running_std_.to(z.device());
}

at::Tensor Flux2Latents::decode(const Autoencoder& autoencoder, const at::Tensor& latent) const {
  const int64_t channels = z_channels_ * kPatch * kPatch;
  if (latent.dim() != 4 || latent.size(1) != channels) {
    throw InputError("latent of shape " + shape_string(latent.sizes().vec()) + " is not [B, " +
                     std::to_string(channels) + ", h, w]");
  }
  const at::Tensor z = latent.to(at::kFloat) * running_std_.to(latent.device()) + running_mean_.to(latent.device());
  return autoencoder.decode_unscaled(unpatchify(z));  // [B, C, 2f*h, 2f*w]
}

}  // namespace untwist
