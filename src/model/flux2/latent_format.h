// FLUX.2's latent format: the autoencoder's posterior mean cut into 2x2
// patches, b c (h 2) (w 2) -> b (c 2 2) h w, then normalised per channel by
// the BatchNorm running statistics bn.running_mean / bn.running_var (eval
// mode, no affine part). There is no scale or shift factor.
#pragma once
#include <ATen/ATen.h>

#include "model/autoencoder.h"
#include "model/latent_autoencoder.h"

namespace untwist {

class Weights;

class Flux2Latents : public LatentAutoencoder {
 public:
  // The shared network (with its quant convs) and the statistics, 4 * z_channels
  // each, and the BatchNorm eps (metadata "bn_eps" / diffusers "batch_norm_eps"
  // when given, else the reference's 1e-4).
  Flux2Latents(const Weights& weights, at::ScalarType compute_dtype, at::Device device);

  int64_t patch() const override { return 2 * ae_.downscale(); }
  int64_t token_channels() const override { return 4 * ae_.config().z_channels; }
  // image [B, C, H, W], H and W multiples of 2f -> latent [B, 4z, H/2f, W/2f]
  at::Tensor encode(const at::Tensor& image) const override;
  // latent [B, 4z, h, w] -> image [B, C, 2f*h, 2f*w]
  at::Tensor decode(const at::Tensor& latent) const override;
  // [B, 4z, h, w] <-> [B, h*w, 4z] (the reference's prc_img)
  at::Tensor to_tokens(const at::Tensor& latent) const override;
  at::Tensor from_tokens(const at::Tensor& tokens, int64_t h, int64_t w) const override;
  // randn [1, 4z, h, w] in bfloat16, as tokens.
  at::Tensor seeded_noise(uint64_t seed, int64_t h, int64_t w) const override;

 private:
  Autoencoder ae_;
  at::Tensor running_mean_, running_std_;  // [1, 4z, 1, 1] float32; std = sqrt(var + eps)
};

}  // namespace untwist
