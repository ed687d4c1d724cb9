#include "model/flux1/flux1_latents.h"

#include "model/flux1/packing.h"
#include "model/seeded_noise.h"

namespace untwist {

at::Tensor Flux1Latents::encode(const at::Tensor& images) const { return pack_latents(ae_->encode(images)); }

at::Tensor Flux1Latents::decode(const at::Tensor& tokens, int64_t h, int64_t w) const {
  return ae_->decode(unpack_latents(tokens, h, w));
}

at::Tensor Flux1Latents::seeded_noise(uint64_t seed, int64_t h, int64_t w) const {
  return pack_latents(seeded_randn(seed, {1, ae_->config().z_channels, 2 * h, 2 * w}));
}

}  // namespace untwist
