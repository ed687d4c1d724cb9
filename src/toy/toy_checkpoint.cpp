#include "toy/toy_checkpoint.h"

#include <ATen/CPUGeneratorImpl.h>

#include <nlohmann/json.hpp>

#include "model/flux1/flux_random.h"

namespace untwist::toy {

FluxConfig toy_config() {
  FluxConfig config;
  config.in_channels = kPixelChannels;
  config.out_channels = kPixelChannels;
  config.vec_in_dim = 64;
  config.context_in_dim = 64;
  config.hidden_size = 128;
  config.mlp_hidden = 512;
  config.num_heads = 4;
  config.depth = 2;
  config.depth_single_blocks = 4;
  config.axes_dim = {4, 14, 14};
  // Over its 16-token grid, theta 1000 turns 2 of 7 pairs past pi and leaves 3 below 0.35 rad, as
  // FLUX.1 over 64 tokens does with 10 and 12 of 28 (theta 10000 here would leave 4 of 7 nearly still).
  config.theta = 1000;
  config.qkv_bias = true;
  config.guidance_embed = false;
  return config;
}

TensorMap initial_weights(uint64_t seed) {
  TensorMap tensors = random_flux_weights(toy_config(), seed);
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed + 1);
  const int64_t words = static_cast<int64_t>(vocabulary().size()), width = toy_config().context_in_dim;
  tensors[kTextEmbedding] = at::normal(0.0, 1.0, {words, width}, generator);
  tensors[kTextPrevious] = at::normal(0.0, 1.0, {words, width}, generator);
  for (auto& [name, tensor] : tensors) {
    const bool modulation = name.find("mod.lin.") != std::string::npos ||
                            name.find("modulation.lin.") != std::string::npos ||
                            name.find("adaLN_modulation") != std::string::npos;
    if (modulation || name.rfind("final_layer.linear.", 0) == 0) tensor.zero_();
  }
  return tensors;
}

std::map<std::string, std::string> checkpoint_metadata(const std::string& note) {
  const FluxConfig c = toy_config();
  const nlohmann::json params = {{"in_channels", c.in_channels},   {"out_channels", c.out_channels},
                                 {"vec_in_dim", c.vec_in_dim},     {"context_in_dim", c.context_in_dim},
                                 {"hidden_size", c.hidden_size},   {"mlp_ratio", 4.0},
                                 {"num_heads", c.num_heads},       {"depth", c.depth},
                                 {"depth_single_blocks", c.depth_single_blocks},
                                 {"axes_dim", c.axes_dim},         {"theta", c.theta},
                                 {"qkv_bias", c.qkv_bias},         {"guidance_embed", c.guidance_embed}};
  nlohmann::json world = {{"image_size", kImageSize},
                          {"shapes", shape_names()},
                          {"colours", colour_names()},
                          {"textures", texture_names()},
                          {"vocabulary", vocabulary()}};
  return {{"kind", kCheckpointKind}, {"params", params.dump()}, {"world", world.dump()}, {"note", note}};
}

ToyModel toy_from_tensors(const TensorMap& tensors) {
  return toy_from_weights(Weights::from_tensors(tensors, "toy model"), toy_config(), vocabulary(), kImageSize);
}

}  // namespace untwist::toy
