#include "model/flux2/flux2_random.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <string>

namespace untwist {

TensorMap random_flux2_weights(const Flux2Config& config, uint64_t seed) {
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  TensorMap tensors;
  auto linear = [&](const std::string& name, int64_t out, int64_t in) {
    tensors[name + ".weight"] = at::normal(0.0, 1.0 / std::sqrt(static_cast<double>(in)), {out, in}, generator);
  };
  auto norm = [&](const std::string& name) {
    tensors[name + ".query_norm.scale"] = at::ones({config.head_dim()});
    tensors[name + ".key_norm.scale"] = at::ones({config.head_dim()});
  };
  const int64_t h = config.hidden_size, mlp = config.mlp_hidden;
  linear("img_in", h, config.in_channels);
  linear("txt_in", h, config.context_in_dim);
  for (const std::string embedder : {"time_in", "guidance_in"}) {
    if (embedder == "guidance_in" && !config.guidance_embed) continue;
    linear(embedder + ".in_layer", h, 256);
    linear(embedder + ".out_layer", h, h);
  }
  linear("double_stream_modulation_img.lin", 6 * h, h);
  linear("double_stream_modulation_txt.lin", 6 * h, h);
  linear("single_stream_modulation.lin", 3 * h, h);
  for (int64_t n = 0; n < config.depth; ++n) {
    const std::string p = "double_blocks." + std::to_string(n) + ".";
    for (const std::string stream : {"img", "txt"}) {
      linear(p + stream + "_attn.qkv", 3 * h, h);
      norm(p + stream + "_attn.norm");
      linear(p + stream + "_attn.proj", h, h);
      linear(p + stream + "_mlp.0", 2 * mlp, h);  // SwiGLU: [gate, up]
      linear(p + stream + "_mlp.2", h, mlp);
    }
  }
  for (int64_t n = 0; n < config.depth_single_blocks; ++n) {
    const std::string p = "single_blocks." + std::to_string(n) + ".";
    linear(p + "linear1", 3 * h + 2 * mlp, h);
    linear(p + "linear2", h, h + mlp);
    norm(p + "norm");
  }
  linear("final_layer.adaLN_modulation.1", 2 * h, h);
  linear("final_layer.linear", config.out_channels, h);
  return tensors;
}

}  // namespace untwist
