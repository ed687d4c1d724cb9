#include "model/flux1/flux_config.h"

#include "io/weights.h"
#include "model/dit_layers.h"
#include "model/rope_config.h"
#include "util/errors.h"

namespace untwist {

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

  const int64_t head_dim = qk_norm_head_dim(weights, config.hidden_size, config.depth, config.depth_single_blocks);
  if (config.depth > 0) {
    config.qkv_bias = weights.has("double_blocks.0.img_attn.qkv.bias");
    config.mlp_hidden = dim_of(weights, "double_blocks.0.img_mlp.0.weight", 0);
  } else {
    config.qkv_bias = true;
    config.mlp_hidden = dim_of(weights, "single_blocks.0.linear1.weight", 0) - 3 * config.hidden_size;
  }
  config.num_heads = config.hidden_size / head_dim;

  const RopeParams params = detect_rope_params(weights, rope, head_dim, {{16, 56, 56}, 10000}, "FLUX.1");
  if (params.axes_dim.size() != 3) {
    fail_file(weights.source(), "RoPE axes_dim " + shape_string(params.axes_dim) + ": FLUX.1 has 3 axes");
  }
  config.axes_dim = params.axes_dim;
  config.theta = params.theta;
  return config;
}

}  // namespace untwist
