#include "model/flux_config.h"

#include <nlohmann/json.hpp>
#include <numeric>

#include "io/weights.h"
#include "util/errors.h"

namespace untwist {

namespace {

int64_t dim_of(const Weights& weights, const std::string& name, int64_t dim) {
  const at::Tensor tensor = weights.get(name);
  if (tensor.dim() <= dim) {
    fail_file(weights.source(), "tensor '" + name + "' has shape " + shape_string(tensor.sizes().vec()) +
                                    ", expected at least " + std::to_string(dim + 1) + " dimensions");
  }
  return tensor.size(dim);
}

// axes_dim and theta from the file's "params" metadata, when it has them.
void read_rope_params(const Weights& weights, FluxConfig* config, bool* found) {
  const auto it = weights.metadata().find("params");
  if (it == weights.metadata().end()) return;
  const nlohmann::json params = nlohmann::json::parse(it->second, nullptr, /*allow_exceptions=*/false);
  if (!params.is_object()) fail_file(weights.source(), "metadata 'params' is not a JSON object");
  const auto axes = params.find("axes_dim");
  if (axes == params.end()) return;
  if (!axes->is_array()) fail_file(weights.source(), "metadata params.axes_dim is not an array of integers");
  config->axes_dim.clear();
  for (const auto& value : *axes) {
    if (!value.is_number_unsigned()) fail_file(weights.source(), "metadata params.axes_dim holds a non-integer");
    config->axes_dim.push_back(value.get<int64_t>());
  }
  const auto theta = params.find("theta");
  if (theta != params.end()) {
    if (!theta->is_number()) fail_file(weights.source(), "metadata params.theta is not a number");
    config->theta = theta->get<double>();
  }
  *found = true;
}

}  // namespace

FluxConfig detect_flux_config(const Weights& weights, const RopeOverride& rope) {
  if (!weights.has("img_in.weight")) {
    fail_file(weights.source(), "not a FLUX transformer: tensor 'img_in.weight' (or diffusers 'x_embedder.weight') "
                                "is missing");
  }
  FluxConfig config;
  config.hidden_size = dim_of(weights, "img_in.weight", 0);
  config.in_channels = dim_of(weights, "img_in.weight", 1);
  config.out_channels = dim_of(weights, "final_layer.linear.weight", 0);
  config.vec_in_dim = dim_of(weights, "vector_in.in_layer.weight", 1);
  config.context_in_dim = dim_of(weights, "txt_in.weight", 1);
  config.depth = static_cast<int64_t>(weights.indices_under("double_blocks.").size());
  config.depth_single_blocks = static_cast<int64_t>(weights.indices_under("single_blocks.").size());
  config.guidance_embed = weights.has("guidance_in.in_layer.weight");

  int64_t head_dim = 0;
  if (config.depth > 0) {
    head_dim = dim_of(weights, "double_blocks.0.img_attn.norm.query_norm.scale", 0);
    config.qkv_bias = weights.has("double_blocks.0.img_attn.qkv.bias");
    config.mlp_hidden = dim_of(weights, "double_blocks.0.img_mlp.0.weight", 0);
  } else if (config.depth_single_blocks > 0) {
    head_dim = dim_of(weights, "single_blocks.0.norm.query_norm.scale", 0);
    config.qkv_bias = true;
    config.mlp_hidden = dim_of(weights, "single_blocks.0.linear1.weight", 0) - 3 * config.hidden_size;
  } else {
    fail_file(weights.source(), "FLUX transformer without any double_blocks or single_blocks");
  }
  if (head_dim <= 0 || config.hidden_size % head_dim != 0) {
    fail_file(weights.source(), "qk-norm scale length " + std::to_string(head_dim) +
                                    " does not divide the hidden size " + std::to_string(config.hidden_size));
  }
  config.num_heads = config.hidden_size / head_dim;

  bool rope_from_file = false;
  read_rope_params(weights, &config, &rope_from_file);
  if (rope.axes_dim) {
    config.axes_dim = *rope.axes_dim;
  } else if (!rope_from_file) {
    if (head_dim != 128) {
      fail_file(weights.source(), "head dim is " + std::to_string(head_dim) +
                                      ", not FLUX.1's 128, and the file does not say its RoPE axes: pass "
                                      "--axes-dim A,B,C (summing to " + std::to_string(head_dim) + ")");
    }
    config.axes_dim = {16, 56, 56};
    config.theta = 10000;
  }
  if (rope.theta) config.theta = *rope.theta;

  const int64_t axes_sum = std::accumulate(config.axes_dim.begin(), config.axes_dim.end(), int64_t{0});
  if (axes_sum != head_dim) {
    fail_file(weights.source(), "RoPE axes_dim " + shape_string(config.axes_dim) + " sum to " +
                                    std::to_string(axes_sum) + ", but the head dim is " + std::to_string(head_dim));
  }
  for (int64_t axis : config.axes_dim) {
    if (axis <= 0 || axis % 2 != 0) {
      fail_file(weights.source(), "RoPE axes_dim " + shape_string(config.axes_dim) + " must be positive and even");
    }
  }
  if (!(config.theta > 0)) fail_file(weights.source(), "RoPE theta must be positive");
  return config;
}

}  // namespace untwist
