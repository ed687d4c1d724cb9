#include "toy/toy_model.h"

#include <ATen/CPUGeneratorImpl.h>

#include <nlohmann/json.hpp>

#include "model/flux1/flux_config.h"
#include "model/flux1/flux_random.h"
#include "model/flux1/packing.h"
#include "toy/toy_text.h"
#include "toy/world.h"
#include "util/errors.h"

namespace untwist::toy {

FluxConfig toy_config() {
  FluxConfig config;
  config.in_channels = 12;
  config.out_channels = 12;
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
  return {{"kind", "untwist-toy"}, {"params", params.dump()}, {"world", world.dump()}, {"note", note}};
}

namespace {

ToyModel toy_from_weights(const Weights& weights, const FluxConfig& config) {
  ToyModel model;
  model.dit = std::make_unique<FluxModel>(weights, config);
  const std::vector<int64_t> shape = {static_cast<int64_t>(vocabulary().size()), config.context_in_dim};
  model.text = {weights.get(kTextEmbedding, shape), weights.get(kTextPrevious, shape)};
  return model;
}

}  // namespace

ToyModel toy_from_tensors(const TensorMap& tensors) {
  return toy_from_weights(Weights::from_tensors(tensors, "toy model"), toy_config());
}

ToyModel load_toy(const std::string& path) {
  const Weights weights = Weights::load(path);
  for (const char* name : {kTextEmbedding, kTextPrevious}) {
    if (!weights.has(name)) fail_file(path, std::string("not a toy checkpoint of this version: tensor '") + name + "' is missing");
  }
  return toy_from_weights(weights, detect_flux_config(weights));
}

at::Tensor toy_position_table(const ToyModel& model, int64_t batch) {
  const int64_t side = kTokenSide;
  DitInputs ids;
  ids.txt_ids = model.dit->text_ids(batch, kMaxWords);
  ids.img_ids = model.dit->image_ids(batch, side, side);
  return model.dit->position_table(ids);
}

at::Tensor predict_velocity(const ToyModel& model, const at::Tensor& xt, const at::Tensor& ids, const at::Tensor& t,
                            const at::Tensor& pe) {
  const TextEncoding text = encode_text(model.text, ids);
  const int64_t side = kTokenSide;
  DitInputs inputs;
  inputs.img = xt;
  inputs.img_ids = model.dit->image_ids(xt.size(0), side, side);
  inputs.txt = text.txt;
  inputs.txt_ids = model.dit->text_ids(xt.size(0), kMaxWords);
  inputs.y = text.y;
  inputs.timesteps = t;
  inputs.guidance = at::ones({xt.size(0)});
  return model.dit->forward(inputs, pe).to(at::kFloat);
}

at::Tensor pack_pixels(const at::Tensor& images) { return pack_latents(images * 2 - 1); }

at::Tensor unpack_pixels(const at::Tensor& packed) {
  return ((unpack_latents(packed, kTokenSide, kTokenSide) + 1) / 2).clamp(0, 1);
}

}  // namespace untwist::toy
