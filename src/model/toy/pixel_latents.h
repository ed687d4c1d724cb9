// The toy family's "autoencoder": none. Its latent is the image itself,
// [B, 3, H, W] in [-1, 1], packed 2x2 into 12-channel tokens as FLUX.1 packs
// its latents, so one token is 2x2 pixels and -W/-H count pixels of the
// model's own scale.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>

#include "model/latent_autoencoder.h"

namespace untwist::toy {

constexpr int64_t kPixelPatch = 2;     // pixels per token side
constexpr int64_t kPixelChannels = 12;  // 2x2 RGB

// images [B, 3, H, W] in [0, 1] -> tokens [B, H/2 * W/2, 12] in [-1, 1]
at::Tensor pack_pixels(const at::Tensor& images);
// tokens [B, rows * cols, 12] -> images [B, 3, 2 rows, 2 cols] in [0, 1]
at::Tensor unpack_pixels(const at::Tensor& tokens, int64_t rows, int64_t cols);
// [1, rows * cols, 12]: the initial noise of one image drawn from `seed`
// (libtorch's CPU generator, bfloat16, as FLUX.1's get_noise draws its
// latents), in float32.
at::Tensor pixel_noise(uint64_t seed, int64_t rows, int64_t cols);

class PixelLatents : public LatentAutoencoder {
 public:
  int64_t patch() const override { return kPixelPatch; }
  int64_t token_channels() const override { return kPixelChannels; }
  // The identity: the latent of an image is the image.
  at::Tensor encode(const at::Tensor& images) const override { return images; }
  at::Tensor decode(const at::Tensor& latent) const override { return latent; }
  at::Tensor to_tokens(const at::Tensor& latent) const override;
  at::Tensor from_tokens(const at::Tensor& tokens, int64_t h, int64_t w) const override;
  at::Tensor seeded_noise(uint64_t seed, int64_t h, int64_t w) const override { return pixel_noise(seed, h, w); }
};

}  // namespace untwist::toy
