// The FLUX autoencoder: a convolutional encoder to a diagonal Gaussian over
// z_channels (its mean is used) and the matching decoder, with FLUX.2's 1x1
// quant convs when the weights have them. encode/decode are FLUX.1's latent
// format (scaled and shifted); FLUX.2's is in model/flux2/latent_format.h.
#pragma once
#include <ATen/ATen.h>

#include <vector>

#include "model/autoencoder_config.h"

namespace untwist {

class Weights;

struct Conv2d {
  at::Tensor weight, bias;  // [out, in, k, k], [out]
  int64_t stride = 1, padding = 1;
  at::Tensor operator()(const at::Tensor& x) const {
    return at::conv2d(x, weight, bias, {stride, stride}, {padding, padding});
  }
};

struct GroupNorm32 {
  at::Tensor weight, bias;  // [C]
  at::Tensor operator()(const at::Tensor& x) const { return at::group_norm(x, 32, weight, bias, 1e-6); }
};

struct ResnetBlock {
  GroupNorm32 norm1, norm2;
  Conv2d conv1, conv2;
  Conv2d nin_shortcut;  // undefined weight when channels do not change
};

struct AttnBlock {
  GroupNorm32 norm;
  Conv2d q, k, v, proj_out;  // 1x1
};

struct MidBlock {
  ResnetBlock block_1;
  AttnBlock attn_1;
  ResnetBlock block_2;
};

struct Level {
  std::vector<ResnetBlock> block;
  Conv2d resample;  // encoder: downsample.conv, decoder: upsample.conv; undefined at the last level
};

class Autoencoder {
 public:
  // Weights go to `device` in the compute dtype; inputs and outputs stay on
  // the caller's device.
  Autoencoder(const Weights& weights, AutoencoderConfig config, at::ScalarType compute_dtype = at::kFloat,
              at::Device device = at::kCPU);
  const AutoencoderConfig& config() const { return config_; }
  int64_t downscale() const { return int64_t{1} << (config_.ch_mult.size() - 1); }

  // image [B, in_channels, H, W] in [-1, 1] -> latent [B, z, H/f, W/f] (posterior mean, scaled and shifted)
  at::Tensor encode(const at::Tensor& image) const;
  // latent [B, z, h, w] -> image [B, out_channels, h*f, w*f]
  at::Tensor decode(const at::Tensor& latent) const;

  // The network alone, float32 out: image -> posterior mean [B, z, H/f, W/f] ...
  at::Tensor posterior_mean(const at::Tensor& image) const;
  // ... and z [B, z, h, w] (a posterior mean's scale) -> image [B, out_channels, h*f, w*f].
  at::Tensor decode_unscaled(const at::Tensor& z) const;

 private:
  AutoencoderConfig config_;
  at::TensorOptions options_;  // compute dtype and device
  Conv2d encoder_conv_in, encoder_conv_out, decoder_conv_in, decoder_conv_out;
  Conv2d encoder_quant_conv, decoder_post_quant_conv;  // 1x1; undefined weight when absent
  std::vector<Level> encoder_down, decoder_up;
  MidBlock encoder_mid, decoder_mid;
  GroupNorm32 encoder_norm_out, decoder_norm_out;
};

}  // namespace untwist
