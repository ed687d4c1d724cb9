// FLUX autoencoder hyper-parameters and family, read off the weights.
#pragma once
#include <cstdint>
#include <vector>

namespace untwist {

class Weights;

struct AutoencoderConfig {
  int64_t in_channels = 3;
  int64_t out_channels = 3;
  int64_t ch = 128;
  std::vector<int64_t> ch_mult = {1, 2, 4, 4};
  int64_t num_res_blocks = 2;
  int64_t z_channels = 16;
  double scale_factor = 0.3611;
  double shift_factor = 0.1159;
  // 1x1 convolutions on the moments (encoder.quant_conv) and on the latent
  // (decoder.post_quant_conv): FLUX.2 has them, FLUX.1 does not.
  bool quant_conv = false;
  bool post_quant_conv = false;
};

// FLUX.1: posterior mean scaled and shifted; FLUX.2: posterior mean in 2x2
// patches normalised by BatchNorm running statistics (bn.running_mean).
enum class AutoencoderFamily { Flux1, Flux2 };

AutoencoderFamily detect_autoencoder_family(const Weights& weights);

// Channels, depth and quant convs from the tensors; scale_factor / shift_factor from the
// metadata key "params" when present, else FLUX.1's values.
AutoencoderConfig detect_autoencoder_config(const Weights& weights);

}  // namespace untwist
