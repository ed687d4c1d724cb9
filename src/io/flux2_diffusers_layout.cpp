#include "io/flux2_diffusers_layout.h"

#include "io/layout_converter.h"

namespace untwist {

bool looks_like_diffusers_flux2(const TensorMap& tensors) {
  return tensors.count("double_stream_modulation_img.linear.weight") ||
         tensors.count("single_stream_modulation.linear.weight") ||
         any_name_starts_with(tensors, "time_guidance_embed.");
}

StoredMap convert_diffusers_flux2(const StoredMap& tensors, const std::string& source) {
  LayoutConverter c(tensors, source, "FLUX.2 transformer");
  c.rename("x_embedder", "img_in");
  c.rename("context_embedder", "txt_in");
  c.rename("time_guidance_embed.timestep_embedder.linear_1", "time_in.in_layer");
  c.rename("time_guidance_embed.timestep_embedder.linear_2", "time_in.out_layer");
  c.rename("time_guidance_embed.guidance_embedder.linear_1", "guidance_in.in_layer");
  c.rename("time_guidance_embed.guidance_embedder.linear_2", "guidance_in.out_layer");
  c.rename("double_stream_modulation_img.linear", "double_stream_modulation_img.lin");
  c.rename("double_stream_modulation_txt.linear", "double_stream_modulation_txt.lin");
  c.rename("single_stream_modulation.linear", "single_stream_modulation.lin");

  for (int n : indices_under(tensors, "transformer_blocks.")) {
    const std::string from = "transformer_blocks." + std::to_string(n) + ".";
    const std::string to = "double_blocks." + std::to_string(n) + ".";
    c.join({from + "attn.to_q", from + "attn.to_k", from + "attn.to_v"}, to + "img_attn.qkv");
    c.join({from + "attn.add_q_proj", from + "attn.add_k_proj", from + "attn.add_v_proj"}, to + "txt_attn.qkv");
    c.rename_scale(from + "attn.norm_q", to + "img_attn.norm.query_norm");
    c.rename_scale(from + "attn.norm_k", to + "img_attn.norm.key_norm");
    c.rename_scale(from + "attn.norm_added_q", to + "txt_attn.norm.query_norm");
    c.rename_scale(from + "attn.norm_added_k", to + "txt_attn.norm.key_norm");
    c.rename(from + "attn.to_out.0", to + "img_attn.proj");
    c.rename(from + "attn.to_add_out", to + "txt_attn.proj");
    // SwiGLU: linear_in holds (gate, value) as the reference's mlp.0 does.
    c.rename(from + "ff.linear_in", to + "img_mlp.0");
    c.rename(from + "ff.linear_out", to + "img_mlp.2");
    c.rename(from + "ff_context.linear_in", to + "txt_mlp.0");
    c.rename(from + "ff_context.linear_out", to + "txt_mlp.2");
  }
  for (int n : indices_under(tensors, "single_transformer_blocks.")) {
    const std::string from = "single_transformer_blocks." + std::to_string(n) + ".";
    const std::string to = "single_blocks." + std::to_string(n) + ".";
    // One fused projection in both layouts: (q, k, v, mlp gate, mlp value).
    c.rename(from + "attn.to_qkv_mlp_proj", to + "linear1");
    c.rename(from + "attn.to_out", to + "linear2");
    c.rename_scale(from + "attn.norm_q", to + "norm.query_norm");
    c.rename_scale(from + "attn.norm_k", to + "norm.key_norm");
  }
  c.rename_swapping_halves("norm_out.linear", "final_layer.adaLN_modulation.1");
  c.rename("proj_out", "final_layer.linear");
  return c.finish();
}

}  // namespace untwist
