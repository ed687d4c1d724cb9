// FLUX.1's latent format: the autoencoder's 16-channel latents, scaled and
// shifted, packed 2x2 into 64-channel tokens.
#pragma once
#include "model/autoencoder.h"
#include "model/latent_autoencoder.h"

namespace untwist {

class Flux1Latents : public LatentAutoencoder {
 public:
  Flux1Latents(const Weights& weights, at::ScalarType compute_dtype, at::Device device);
  int64_t patch() const override { return 2 * ae_.downscale(); }
  int64_t token_channels() const override { return 4 * ae_.config().z_channels; }
  // [B, 3, H, W] -> [B, z, H/f, W/f]
  at::Tensor encode(const at::Tensor& images) const override { return ae_.encode(images); }
  at::Tensor decode(const at::Tensor& latent) const override { return ae_.decode(latent); }
  at::Tensor to_tokens(const at::Tensor& latent) const override;
  at::Tensor from_tokens(const at::Tensor& tokens, int64_t h, int64_t w) const override;
  // get_noise: randn [1, z, 2h, 2w] in bfloat16, packed.
  at::Tensor seeded_noise(uint64_t seed, int64_t h, int64_t w) const override;

 private:
  Autoencoder ae_;
};

}  // namespace untwist
