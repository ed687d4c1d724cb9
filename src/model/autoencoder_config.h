// FLUX autoencoder hyper-parameters, read off the weights.
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
};

// Channels and depth from tensor shapes; scale_factor / shift_factor from the
// metadata key "params" when present, else FLUX.1's values.
AutoencoderConfig detect_autoencoder_config(const Weights& weights);

}  // namespace untwist
