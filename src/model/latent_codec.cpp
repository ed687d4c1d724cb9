#include "model/latent_codec.h"

#include "io/weights.h"

namespace untwist {

LatentCodec::LatentCodec(const Weights& weights, at::ScalarType compute_dtype, at::Device device)
    : autoencoder_(weights, detect_autoencoder_config(weights), compute_dtype, device) {
  if (detect_autoencoder_family(weights) == AutoencoderFamily::Flux2) {
    flux2_.emplace(weights, autoencoder_.config().z_channels);
  }
}

at::Tensor LatentCodec::encode(const at::Tensor& image) const {
  return flux2_ ? flux2_->encode(autoencoder_, image) : autoencoder_.encode(image);
}

at::Tensor LatentCodec::decode(const at::Tensor& latent) const {
  return flux2_ ? flux2_->decode(autoencoder_, latent) : autoencoder_.decode(latent);
}

}  // namespace untwist
