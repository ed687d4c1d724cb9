#include "model/autoencoder_config.h"

#include <nlohmann/json.hpp>

#include "io/weights.h"
#include "util/errors.h"

namespace untwist {

AutoencoderFamily detect_autoencoder_family(const Weights& weights) {
  return weights.has("bn.running_mean") ? AutoencoderFamily::Flux2 : AutoencoderFamily::Flux1;
}

AutoencoderConfig detect_autoencoder_config(const Weights& weights) {
  if (!weights.has("encoder.conv_in.weight") || !weights.has("decoder.conv_in.weight")) {
    fail_file(weights.source(), "not a FLUX autoencoder: tensors 'encoder.conv_in.weight' and "
                                "'decoder.conv_in.weight' are expected");
  }
  AutoencoderConfig config;
  const at::Tensor conv_in = weights.get("encoder.conv_in.weight");
  const at::Tensor decoder_in = weights.get("decoder.conv_in.weight");
  if (conv_in.dim() != 4 || decoder_in.dim() != 4) {
    fail_file(weights.source(), "autoencoder conv_in weights are not 4-dimensional");
  }
  config.ch = conv_in.size(0);
  config.in_channels = conv_in.size(1);
  config.z_channels = decoder_in.size(1);
  config.out_channels = weights.get("decoder.conv_out.weight").size(0);
  const auto levels = weights.indices_under("encoder.down.");
  if (levels.empty()) fail_file(weights.source(), "autoencoder has no encoder.down levels");
  config.num_res_blocks = static_cast<int64_t>(weights.indices_under("encoder.down.0.block.").size());
  config.ch_mult.clear();
  for (int level : levels) {
    const std::string name = "encoder.down." + std::to_string(level) + ".block.0.conv1.weight";
    const int64_t channels = weights.get(name).size(0);
    if (channels % config.ch != 0) {
      fail_file(weights.source(), "tensor '" + name + "' has " + std::to_string(channels) +
                                      " output channels, not a multiple of ch = " + std::to_string(config.ch));
    }
    config.ch_mult.push_back(channels / config.ch);
  }
  config.quant_conv = weights.has("encoder.quant_conv.weight");
  config.post_quant_conv = weights.has("decoder.post_quant_conv.weight");
  const nlohmann::json params = weights.metadata_config();
  if (params.contains("scale_factor") && params["scale_factor"].is_number())
    config.scale_factor = params["scale_factor"].get<double>();
  if (params.contains("shift_factor") && params["shift_factor"].is_number())
    config.shift_factor = params["shift_factor"].get<double>();
  return config;
}

}  // namespace untwist
