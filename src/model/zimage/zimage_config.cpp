#include "model/zimage/zimage_config.h"

#include <numeric>

#include "io/weights.h"
#include "util/errors.h"

namespace untwist {

namespace {

// The suffix "<patch>-<frame patch>" of every all_x_embedder.*.weight.
std::vector<std::string> embedder_keys(const Weights& weights) {
  const std::string prefix = "all_x_embedder.", suffix = ".weight";
  std::vector<std::string> keys;
  for (const std::string& name : weights.names()) {
    if (name.size() > prefix.size() + suffix.size() && name.compare(0, prefix.size(), prefix) == 0 &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      keys.push_back(name.substr(prefix.size(), name.size() - prefix.size() - suffix.size()));
    }
  }
  return keys;
}

double number_in(const Weights& weights, const nlohmann::json& params, const char* key, double fallback) {
  const auto it = params.find(key);
  if (it == params.end()) return fallback;
  if (!it->is_number()) fail_file(weights.source(), std::string("metadata params.") + key + " is not a number");
  return it->get<double>();
}

}  // namespace

bool is_zimage_transformer(const Weights& weights) { return weights.has("cap_pad_token") && weights.has("x_pad_token"); }

ZImageConfig detect_zimage_config(const Weights& weights, const nlohmann::json& params, const RopeOverride& rope) {
  ZImageConfig config;
  const std::vector<std::string> keys = embedder_keys(weights);
  if (keys.empty()) fail_file(weights.source(), "not a Z-Image transformer: no 'all_x_embedder.<patch>-1.weight'");
  // The reference's default patch (2-1) when the file has several.
  config.embedder_key = keys.front();
  for (const std::string& key : keys) {
    if (key == "2-1") config.embedder_key = key;
  }
  const size_t dash = config.embedder_key.find('-');
  if (dash == std::string::npos || config.embedder_key.substr(dash + 1) != "1") {
    fail_file(weights.source(), "Z-Image embedder 'all_x_embedder." + config.embedder_key +
                                    "' is not an image one (<patch>-1)");
  }
  try {
    config.patch = std::stoll(config.embedder_key.substr(0, dash));
  } catch (const std::exception&) {
    config.patch = 0;
  }
  const std::string embedder = "all_x_embedder." + config.embedder_key + ".weight";
  config.dim = dim_of(weights, embedder, 0);
  const int64_t patch_area = config.patch * config.patch;
  if (config.patch <= 0 || dim_of(weights, embedder, 1) % patch_area != 0) {
    fail_file(weights.source(), "'" + embedder + "' takes " + std::to_string(dim_of(weights, embedder, 1)) +
                                    " channels, not a multiple of the patch area " + std::to_string(patch_area));
  }
  config.in_channels = dim_of(weights, embedder, 1) / patch_area;
  config.cap_feat_dim = dim_of(weights, "cap_embedder.1.weight", 1);
  config.n_layers = static_cast<int64_t>(weights.indices_under("layers.").size());
  config.n_noise_refiner = static_cast<int64_t>(weights.indices_under("noise_refiner.").size());
  config.n_context_refiner = static_cast<int64_t>(weights.indices_under("context_refiner.").size());
  if (config.n_layers == 0) fail_file(weights.source(), "Z-Image transformer without any 'layers.N' block");
  config.ffn_hidden = dim_of(weights, "layers.0.feed_forward.w1.weight", 0);
  config.adaln_dim = dim_of(weights, "t_embedder.mlp.2.weight", 0);
  config.time_hidden = dim_of(weights, "t_embedder.mlp.0.weight", 0);

  config.norm_eps = number_in(weights, params, "norm_eps", config.norm_eps);
  config.t_scale = number_in(weights, params, "t_scale", config.t_scale);
  config.theta = rope.theta ? *rope.theta : number_in(weights, params, "rope_theta", config.theta);
  const auto axes = params.find("axes_dims");
  if (rope.axes_dim) {
    config.axes_dims = *rope.axes_dim;
  } else if (axes != params.end()) {
    if (!axes->is_array()) fail_file(weights.source(), "metadata params.axes_dims is not an array of integers");
    config.axes_dims.clear();
    for (const auto& value : *axes) {
      if (!value.is_number_unsigned()) fail_file(weights.source(), "metadata params.axes_dims holds a non-integer");
      config.axes_dims.push_back(value.get<int64_t>());
    }
  }
  const int64_t axes_sum = std::accumulate(config.axes_dims.begin(), config.axes_dims.end(), int64_t{0});
  config.qk_norm = weights.has("layers.0.attention.norm_q.weight");
  const int64_t head_dim = config.qk_norm ? dim_of(weights, "layers.0.attention.norm_q.weight", 0) : axes_sum;
  if (head_dim <= 0 || config.dim % head_dim != 0) {
    fail_file(weights.source(), "head dim " + std::to_string(head_dim) + " does not divide the width " +
                                    std::to_string(config.dim));
  }
  config.num_heads = config.dim / head_dim;
  if (config.axes_dims.size() != 3 || axes_sum != head_dim) {
    fail_file(weights.source(), "RoPE axes " + shape_string(config.axes_dims) + " are not 3 axes (t, h, w) summing to "
                                    "the head dim " + std::to_string(head_dim) + ": pass --axes-dim");
  }
  for (int64_t axis : config.axes_dims) {
    if (axis <= 0 || axis % 2 != 0) {
      fail_file(weights.source(), "RoPE axes " + shape_string(config.axes_dims) + " must be positive and even");
    }
  }
  if (!(config.theta > 0)) fail_file(weights.source(), "RoPE theta must be positive");
  const int64_t kv_rows = dim_of(weights, "layers.0.attention.to_k.weight", 0);
  if (kv_rows != config.dim) {
    fail_file(weights.source(), "keys of " + std::to_string(kv_rows / head_dim) + " heads for " +
                                    std::to_string(config.num_heads) + " query heads: grouped-query attention is "
                                    "not supported (the reference's attention does not run it either)");
  }
  return config;
}

}  // namespace untwist
