// What a family's autoencoder gives the pipeline: images to the family's
// latents and back, latents to the transformer's image tokens and back, and
// the initial noise as the reference draws it.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>

namespace untwist {

class LatentAutoencoder {
 public:
  virtual ~LatentAutoencoder() = default;
  // Image pixels per token side (16 for FLUX.1 and FLUX.2).
  virtual int64_t patch() const = 0;
  // Channels of one image token.
  virtual int64_t token_channels() const = 0;
  // images [B, 3, H, W] in [-1, 1] (H, W multiples of patch) -> the family's
  // latent, as the reference's encode returns it
  virtual at::Tensor encode(const at::Tensor& images) const = 0;
  // the family's latent -> images [B, 3, H, W] in [-1, 1]
  virtual at::Tensor decode(const at::Tensor& latent) const = 0;
  // latent -> tokens [B, h*w, C], row-major over the token grid; and back
  virtual at::Tensor to_tokens(const at::Tensor& latent) const = 0;
  virtual at::Tensor from_tokens(const at::Tensor& tokens, int64_t h, int64_t w) const = 0;
  // [1, h*w, C]: the initial noise of one image on an h x w token grid drawn
  // from `seed` as the reference does (libtorch's CPU generator, bfloat16),
  // in float32.
  virtual at::Tensor seeded_noise(uint64_t seed, int64_t h, int64_t w) const = 0;
};

}  // namespace untwist
