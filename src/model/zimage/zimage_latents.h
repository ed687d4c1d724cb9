// Z-Image's latent format: FLUX.1's autoencoder (16-channel latents, scaled
// and shifted), the latent cut into 2x2 patches by the transformer's own
// patchify, whose token channels run (row in patch, column in patch, channel)
// where FLUX.1's packing runs (channel, row, column).
#pragma once
#include <ATen/ATen.h>

#include "model/autoencoder.h"
#include "model/latent_autoencoder.h"

namespace untwist {

// [B, C, H, W] (H, W multiples of `patch`) -> [B, (H/p) * (W/p), p*p*C]
at::Tensor zimage_patchify(const at::Tensor& latent, int64_t patch);
// [B, h*w, p*p*C] -> [B, C, h*p, w*p]
at::Tensor zimage_unpatchify(const at::Tensor& tokens, int64_t h, int64_t w, int64_t patch);

class ZImageLatents : public LatentAutoencoder {
 public:
  ZImageLatents(const Weights& weights, at::ScalarType compute_dtype, at::Device device);
  int64_t patch() const override { return kPatch * ae_.downscale(); }
  int64_t token_channels() const override { return kPatch * kPatch * ae_.config().z_channels; }
  // [B, 3, H, W] -> [B, z, H/f, W/f]
  at::Tensor encode(const at::Tensor& images) const override { return ae_.encode(images); }
  at::Tensor decode(const at::Tensor& latent) const override { return ae_.decode(latent); }
  at::Tensor to_tokens(const at::Tensor& latent) const override { return zimage_patchify(latent, kPatch); }
  at::Tensor from_tokens(const at::Tensor& tokens, int64_t h, int64_t w) const override {
    return zimage_unpatchify(tokens, h, w, kPatch);
  }
  // The reference pipeline's torch.randn [1, z, 2h, 2w] in float32, patchified.
  at::Tensor seeded_noise(uint64_t seed, int64_t h, int64_t w) const override;

 private:
  static constexpr int64_t kPatch = 2;
  Autoencoder ae_;
};

}  // namespace untwist
