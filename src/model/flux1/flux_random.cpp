#include "model/flux1/flux_random.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

namespace untwist {

TensorMap random_flux_weights(const FluxConfig& config, uint64_t seed) {
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  TensorMap tensors;
  auto linear = [&](const std::string& name, int64_t out, int64_t in, bool bias = true) {
    tensors[name + ".weight"] = at::normal(0.0, 1.0 / std::sqrt(static_cast<double>(in)), {out, in}, generator);
    if (bias) tensors[name + ".bias"] = at::normal(0.0, 0.02, {out}, generator);
  };
  auto norm = [&](const std::string& name) {
    tensors[name + ".query_norm.scale"] = at::ones({config.head_dim()});
    tensors[name + ".key_norm.scale"] = at::ones({config.head_dim()});
  };
  const int64_t h = config.hidden_size, mlp = config.mlp_hidden;
  linear("img_in", h, config.in_channels);
  linear("txt_in", h, config.context_in_dim);
  for (const char* embedder : {"time_in", "vector_in", "guidance_in"}) {
    if (std::string(embedder) == "guidance_in" && !config.guidance_embed) continue;
    linear(std::string(embedder) + ".in_layer", h, std::string(embedder) == "vector_in" ? config.vec_in_dim : 256);
    linear(std::string(embedder) + ".out_layer", h, h);
  }
  for (int64_t n = 0; n < config.depth; ++n) {
    const std::string p = "double_blocks." + std::to_string(n) + ".";
    for (const std::string stream : {"img", "txt"}) {
      linear(p + stream + "_mod.lin", 6 * h, h);
      linear(p + stream + "_attn.qkv", 3 * h, h, config.qkv_bias);
      norm(p + stream + "_attn.norm");
      linear(p + stream + "_attn.proj", h, h);
      linear(p + stream + "_mlp.0", mlp, h);
      linear(p + stream + "_mlp.2", h, mlp);
    }
  }
  for (int64_t n = 0; n < config.depth_single_blocks; ++n) {
    const std::string p = "single_blocks." + std::to_string(n) + ".";
    linear(p + "linear1", 3 * h + mlp, h);
    linear(p + "linear2", h, h + mlp);
    norm(p + "norm");
    linear(p + "modulation.lin", 3 * h, h);
  }
  linear("final_layer.adaLN_modulation.1", 2 * h, h);
  linear("final_layer.linear", config.out_channels, h);
  return tensors;
}

}  // namespace untwist
