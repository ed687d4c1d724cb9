#include "model/flux2/flux2_config.h"

#include "io/weights.h"
#include "model/dit_layers.h"
#include "util/errors.h"

namespace untwist {

bool is_flux2_transformer(const Weights& weights) {
  return weights.has("double_stream_modulation_img.lin.weight") || weights.has("single_stream_modulation.lin.weight");
}

Flux2Config detect_flux2_config(const Weights& weights, const RopeOverride& rope) {
  if (!weights.has("img_in.weight") || !weights.has("single_stream_modulation.lin.weight")) {
    fail_file(weights.source(), "not a FLUX.2 transformer: 'img_in.weight' or 'single_stream_modulation.lin.weight' "
                                "is missing");
  }
  Flux2Config config;
  config.hidden_size = dim_of(weights, "img_in.weight", 0);
  config.in_channels = dim_of(weights, "img_in.weight", 1);
  config.out_channels = dim_of(weights, "final_layer.linear.weight", 0);
  config.context_in_dim = dim_of(weights, "txt_in.weight", 1);
  config.depth = static_cast<int64_t>(weights.indices_under("double_blocks.").size());
  config.depth_single_blocks = static_cast<int64_t>(weights.indices_under("single_blocks.").size());
  config.guidance_embed = weights.has("guidance_in.in_layer.weight");

  const int64_t head_dim = qk_norm_head_dim(weights, config.hidden_size, config.depth, config.depth_single_blocks);
  config.mlp_hidden = config.depth > 0 ? dim_of(weights, "double_blocks.0.img_mlp.2.weight", 1)
                                       : dim_of(weights, "single_blocks.0.linear2.weight", 1) - config.hidden_size;
  config.num_heads = config.hidden_size / head_dim;
  const RopeParams params = detect_rope_params(weights, rope, head_dim, {{32, 32, 32, 32}, 2000}, "FLUX.2");
  if (params.axes_dim.size() != 4) {
    fail_file(weights.source(), "RoPE axes_dim " + shape_string(params.axes_dim) + ": FLUX.2 has 4 axes (t, h, w, l)");
  }
  config.axes_dim = params.axes_dim;
  config.theta = params.theta;
  return config;
}

}  // namespace untwist
