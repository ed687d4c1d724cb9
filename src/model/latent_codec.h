// One entry to the FLUX autoencoders: the shared network with its family's
// latent format (FLUX.1: scaled and shifted; FLUX.2: 2x2 patches normalised by
// BatchNorm statistics), chosen from the weights.
#pragma once
#include <ATen/ATen.h>

#include <optional>

#include "model/autoencoder.h"
#include "model/flux2/latent_format.h"

namespace untwist {

class LatentCodec {
 public:
  // Weights go to `device` in the compute dtype; inputs and outputs stay on
  // the caller's device, outputs in float32.
  explicit LatentCodec(const Weights& weights, at::ScalarType compute_dtype = at::kFloat,
                       at::Device device = at::kCPU);

  // image [B, C, H, W] in [-1, 1] -> latent: FLUX.1 [B, z, H/f, W/f], FLUX.2 [B, 4z, H/2f, W/2f]
  at::Tensor encode(const at::Tensor& image) const;
  // latent -> image [B, C, H, W], the inverse shapes
  at::Tensor decode(const at::Tensor& latent) const;

 private:
  Autoencoder autoencoder_;
  std::optional<Flux2Latents> flux2_;  // FLUX.2 only
};

}  // namespace untwist
