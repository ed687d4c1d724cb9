#include "model/flux2/latent_format.h"

#include <nlohmann/json.hpp>

#include "io/weights.h"
#include "model/autoencoder.h"
#include "model/seeded_noise.h"
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

Flux2Latents::Flux2Latents(const Weights& weights, at::ScalarType compute_dtype, at::Device device)
    : ae_(weights, detect_autoencoder_config(weights), compute_dtype, device) {
  const int64_t channels = token_channels();
  const at::Tensor mean = weights.get("bn.running_mean", {channels}).to(at::kFloat);
  const at::Tensor var = weights.get("bn.running_var", {channels}).to(at::kFloat);
  if ((var < 0).any().item<bool>()) fail_file(weights.source(), "tensor 'bn.running_var' has negative variances");
  running_mean_ = mean.reshape({1, channels, 1, 1});
  running_std_ = at::sqrt(var + batch_norm_eps(weights)).reshape({1, channels, 1, 1});
}

at::Tensor Flux2Latents::encode(const at::Tensor& image) const {
  const int64_t multiple = patch();
  if (image.dim() == 4 && (image.size(2) % multiple != 0 || image.size(3) % multiple != 0)) {
    throw InputError("image of shape " + shape_string(image.sizes().vec()) +
                     " does not have H and W multiples of " + std::to_string(multiple) +
                     " (the autoencoder's downscale times the 2x2 latent patches)");
  }
  const at::Tensor z = patchify(ae_.posterior_mean(image));  // [B, 4z, H/2f, W/2f]
  return (z - running_mean_.to(z.device())) / running_std_.to(z.device());
}

at::Tensor Flux2Latents::decode(const at::Tensor& latent) const {
  const int64_t channels = token_channels();
  if (latent.dim() != 4 || latent.size(1) != channels) {
    throw InputError("latent of shape " + shape_string(latent.sizes().vec()) + " is not [B, " +
                     std::to_string(channels) + ", h, w]");
  }
  const at::Tensor z = latent.to(at::kFloat) * running_std_.to(latent.device()) + running_mean_.to(latent.device());
  return ae_.decode_unscaled(unpatchify(z));  // [B, C, 2f*h, 2f*w]
}

at::Tensor Flux2Latents::to_tokens(const at::Tensor& latent) const {
  return latent.flatten(2).transpose(1, 2).contiguous();  // [B, h*w, 4z]
}

at::Tensor Flux2Latents::from_tokens(const at::Tensor& tokens, int64_t h, int64_t w) const {
  if (tokens.dim() != 3 || tokens.size(1) != h * w) {
    throw InputError("cannot place image tokens of shape " + shape_string(tokens.sizes().vec()) + " onto a " +
                     std::to_string(h) + "x" + std::to_string(w) + " token grid");
  }
  return tokens.transpose(1, 2).reshape({tokens.size(0), tokens.size(2), h, w});  // [B, 4z, h, w]
}

at::Tensor Flux2Latents::seeded_noise(uint64_t seed, int64_t h, int64_t w) const {
  return to_tokens(seeded_randn(seed, {1, token_channels(), h, w}));
}

}  // namespace untwist
