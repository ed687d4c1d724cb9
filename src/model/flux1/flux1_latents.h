// FLUX.1's latent format: the autoencoder's 16-channel latents packed 2x2
// into 64-channel tokens.
#pragma once
#include <memory>

#include "model/autoencoder.h"
#include "model/latent_autoencoder.h"

namespace untwist {

class Flux1Latents : public LatentAutoencoder {
 public:
  explicit Flux1Latents(std::unique_ptr<Autoencoder> autoencoder) : ae_(std::move(autoencoder)) {}
  int64_t patch() const override { return 2 * ae_->downscale(); }
  int64_t token_channels() const override { return 4 * ae_->config().z_channels; }
  at::Tensor encode(const at::Tensor& images) const override;
  at::Tensor decode(const at::Tensor& tokens, int64_t h, int64_t w) const override;
  // get_noise: randn [1, z, 2h, 2w] in bfloat16, packed.
  at::Tensor seeded_noise(uint64_t seed, int64_t h, int64_t w) const override;

 private:
  std::unique_ptr<Autoencoder> ae_;
};

}  // namespace untwist
