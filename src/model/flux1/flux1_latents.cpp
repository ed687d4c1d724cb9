#include "model/flux1/flux1_latents.h"

#include "model/flux1/packing.h"
#include "model/seeded_noise.h"

namespace untwist {

Flux1Latents::Flux1Latents(const Weights& weights, at::ScalarType compute_dtype, at::Device device)
    : ae_(weights, detect_autoencoder_config(weights), compute_dtype, device) {}

at::Tensor Flux1Latents::to_tokens(const at::Tensor& latent) const { return pack_latents(latent); }

at::Tensor Flux1Latents::from_tokens(const at::Tensor& tokens, int64_t h, int64_t w) const {
  return unpack_latents(tokens, h, w);
}

at::Tensor Flux1Latents::seeded_noise(uint64_t seed, int64_t h, int64_t w) const {
  return pack_latents(seeded_randn(seed, {1, ae_.config().z_channels, 2 * h, 2 * w}));
}

}  // namespace untwist
