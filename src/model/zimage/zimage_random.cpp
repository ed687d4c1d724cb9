#include "model/zimage/zimage_random.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <string>

namespace untwist {

namespace {

// The time embedding's input: 256 frequency channels.
constexpr int64_t kTimeFrequencies = 256;

}  // namespace

TensorMap random_zimage_weights(const ZImageConfig& config, uint64_t seed) {
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  TensorMap tensors;
  auto linear = [&](const std::string& name, int64_t out, int64_t in, bool bias) {
    tensors[name + ".weight"] = at::normal(0.0, 1.0 / std::sqrt(static_cast<double>(in)), {out, in}, generator);
    if (bias) tensors[name + ".bias"] = at::zeros({out});
  };
  const int64_t dim = config.dim;
  auto block = [&](const std::string& prefix, bool modulated) {
    const std::string attention = prefix + "attention.";
    for (const std::string projection : {"to_q", "to_k", "to_v", "to_out.0"}) {
      linear(attention + projection, dim, dim, false);
    }
    if (config.qk_norm) {
      tensors[attention + "norm_q.weight"] = at::ones({config.head_dim()});
      tensors[attention + "norm_k.weight"] = at::ones({config.head_dim()});
    }
    for (const std::string norm : {"attention_norm1", "attention_norm2", "ffn_norm1", "ffn_norm2"}) {
      tensors[prefix + norm + ".weight"] = at::ones({dim});
    }
    linear(prefix + "feed_forward.w1", config.ffn_hidden, dim, false);
    linear(prefix + "feed_forward.w2", dim, config.ffn_hidden, false);
    linear(prefix + "feed_forward.w3", config.ffn_hidden, dim, false);
    if (modulated) linear(prefix + "adaLN_modulation.0", 4 * dim, config.adaln_dim, true);
  };
  linear("all_x_embedder." + config.embedder_key, dim, config.token_channels(), true);
  linear("all_final_layer." + config.embedder_key + ".linear", config.token_channels(), dim, true);
  linear("all_final_layer." + config.embedder_key + ".adaLN_modulation.1", dim, config.adaln_dim, true);
  linear("t_embedder.mlp.0", config.time_hidden, kTimeFrequencies, true);
  linear("t_embedder.mlp.2", config.adaln_dim, config.time_hidden, true);
  tensors["cap_embedder.0.weight"] = at::ones({config.cap_feat_dim});
  linear("cap_embedder.1", dim, config.cap_feat_dim, true);
  tensors["x_pad_token"] = at::normal(0.0, 1.0, {1, dim}, generator);
  tensors["cap_pad_token"] = at::normal(0.0, 1.0, {1, dim}, generator);
  for (int64_t n = 0; n < config.n_noise_refiner; ++n) block("noise_refiner." + std::to_string(n) + ".", true);
  for (int64_t n = 0; n < config.n_context_refiner; ++n) block("context_refiner." + std::to_string(n) + ".", false);
  for (int64_t n = 0; n < config.n_layers; ++n) block("layers." + std::to_string(n) + ".", true);
  return tensors;
}

}  // namespace untwist
