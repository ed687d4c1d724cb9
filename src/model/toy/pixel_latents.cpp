#include "model/toy/pixel_latents.h"

#include "model/flux1/packing.h"
#include "model/seeded_noise.h"

namespace untwist::toy {

at::Tensor pack_pixels(const at::Tensor& images) { return PixelLatents().to_tokens(images * 2 - 1); }

at::Tensor unpack_pixels(const at::Tensor& tokens, int64_t rows, int64_t cols) {
  return ((PixelLatents().from_tokens(tokens, rows, cols) + 1) / 2).clamp(0, 1);
}

at::Tensor pixel_noise(uint64_t seed, int64_t rows, int64_t cols) {
  return PixelLatents().to_tokens(seeded_randn(seed, {1, 3, kPixelPatch * rows, kPixelPatch * cols}));
}

at::Tensor PixelLatents::to_tokens(const at::Tensor& latent) const { return pack_latents(latent); }

at::Tensor PixelLatents::from_tokens(const at::Tensor& tokens, int64_t h, int64_t w) const {
  return unpack_latents(tokens, h, w);
}

}  // namespace untwist::toy
