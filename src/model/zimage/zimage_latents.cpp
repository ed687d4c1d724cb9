#include "model/zimage/zimage_latents.h"

#include <ATen/CPUGeneratorImpl.h>

#include "model/autoencoder_config.h"
#include "util/errors.h"

namespace untwist {

at::Tensor zimage_patchify(const at::Tensor& latent, int64_t patch) {
  if (latent.dim() != 4 || latent.size(2) % patch != 0 || latent.size(3) % patch != 0) {
    throw InputError("latent of shape " + shape_string(latent.sizes().vec()) + " is not [B, C, H, W] with H and W " +
                     "multiples of " + std::to_string(patch));
  }
  const int64_t batch = latent.size(0), channels = latent.size(1);
  const int64_t h = latent.size(2) / patch, w = latent.size(3) / patch;
  return latent.reshape({batch, channels, h, patch, w, patch})
      .permute({0, 2, 4, 3, 5, 1})                            // [B, h, w, pH, pW, C]
      .reshape({batch, h * w, patch * patch * channels});   // [B, h*w, p*p*C]
}

at::Tensor zimage_unpatchify(const at::Tensor& tokens, int64_t h, int64_t w, int64_t patch) {
  if (tokens.dim() != 3 || tokens.size(1) != h * w || tokens.size(2) % (patch * patch) != 0) {
    throw InputError("image tokens of shape " + shape_string(tokens.sizes().vec()) + " are not [B, " +
                     std::to_string(h * w) + ", " + std::to_string(patch * patch) + " * C]");
  }
  const int64_t batch = tokens.size(0), channels = tokens.size(2) / (patch * patch);
  return tokens.reshape({batch, h, w, patch, patch, channels})
      .permute({0, 5, 1, 3, 2, 4})                            // [B, C, h, pH, w, pW]
      .reshape({batch, channels, h * patch, w * patch});   // [B, C, H, W]
}

ZImageLatents::ZImageLatents(const Weights& weights, at::ScalarType compute_dtype, at::Device device)
    : ae_(weights, detect_autoencoder_config(weights), compute_dtype, device) {}

at::Tensor ZImageLatents::seeded_noise(uint64_t seed, int64_t h, int64_t w) const {
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  const at::Tensor noise = at::randn({1, ae_.config().z_channels, kPatch * h, kPatch * w}, generator,
                                     at::TensorOptions().dtype(at::kFloat));  // [1, z, 2h, 2w]
  return zimage_patchify(noise, kPatch);
}

}  // namespace untwist
