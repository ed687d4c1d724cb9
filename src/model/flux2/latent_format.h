// FLUX.2's latent format: the autoencoder's posterior mean cut into 2x2
// patches, b c (h 2) (w 2) -> b (c 2 2) h w, then normalised per channel by
// the BatchNorm running statistics bn.running_mean / bn.running_var (eval
// mode, no affine part). There is no scale or shift factor.
#pragma once
#include <ATen/ATen.h>

namespace untwist {

class Autoencoder;
class Weights;

class Flux2Latents {
 public:
  // Reads the statistics, 4 * z_channels each, and the BatchNorm eps (metadata
  // "bn_eps" / diffusers "batch_norm_eps" when given, else the reference's 1e-4).
  Flux2Latents(const Weights& weights, int64_t z_channels);

  // image [B, C, H, W], H and W multiples of 2f -> latent [B, 4z, H/2f, W/2f]
  at::Tensor encode(const Autoencoder& autoencoder, const at::Tensor& image) const;
  // latent [B, 4z, h, w] -> image [B, C, 2f*h, 2f*w]
  at::Tensor decode(const Autoencoder& autoencoder, const at::Tensor& latent) const;

 private:
  int64_t z_channels_;
  at::Tensor running_mean_, running_std_;  // [1, 4z, 1, 1] float32; std = sqrt(var + eps)
};

}  // namespace untwist
