#include "io/diffusers_layout.h"

#include "io/layout_converter.h"

namespace untwist {

namespace {

void convert_resnet(LayoutConverter& c, const std::string& from, const std::string& to) {
  for (const char* part : {"norm1", "conv1", "norm2", "conv2"}) c.rename(from + "." + part, to + "." + part);
  c.rename(from + ".conv_shortcut", to + ".nin_shortcut");
}

void convert_mid(LayoutConverter& c, const std::string& coder) {
  const std::string from = coder + ".mid_block.";
  const std::string to = coder + ".mid.";
  convert_resnet(c, from + "resnets.0", to + "block_1");
  convert_resnet(c, from + "resnets.1", to + "block_2");
  const std::string attention = from + "attentions.0.";
  c.rename(attention + "group_norm", to + "attn_1.norm");
  c.rename_as_conv1x1(attention + "to_q", to + "attn_1.q");
  c.rename_as_conv1x1(attention + "to_k", to + "attn_1.k");
  c.rename_as_conv1x1(attention + "to_v", to + "attn_1.v");
  c.rename_as_conv1x1(attention + "to_out.0", to + "attn_1.proj_out");
}

}  // namespace

bool looks_like_diffusers_flux(const TensorMap& tensors) {
  // ComfyUI's Z-Image also has an x_embedder, beside its learned pad token.
  return (tensors.count("x_embedder.weight") && !tensors.count("x_pad_token")) ||
         any_name_starts_with(tensors, "transformer_blocks.") || any_name_starts_with(tensors, "single_transformer_blocks.");
}

bool looks_like_diffusers_autoencoder(const TensorMap& tensors) {
  return any_name_starts_with(tensors, "encoder.down_blocks.") || any_name_starts_with(tensors, "decoder.up_blocks.");
}

StoredMap convert_diffusers_flux(const StoredMap& tensors, const std::string& source) {
  LayoutConverter c(tensors, source, "FLUX.1 transformer");
  c.rename("x_embedder", "img_in");
  c.rename("context_embedder", "txt_in");
  c.rename("time_text_embed.timestep_embedder.linear_1", "time_in.in_layer");
  c.rename("time_text_embed.timestep_embedder.linear_2", "time_in.out_layer");
  c.rename("time_text_embed.guidance_embedder.linear_1", "guidance_in.in_layer");
  c.rename("time_text_embed.guidance_embedder.linear_2", "guidance_in.out_layer");
  c.rename("time_text_embed.text_embedder.linear_1", "vector_in.in_layer");
  c.rename("time_text_embed.text_embedder.linear_2", "vector_in.out_layer");

  for (int n : indices_under(tensors, "transformer_blocks.")) {
    const std::string from = "transformer_blocks." + std::to_string(n) + ".";
    const std::string to = "double_blocks." + std::to_string(n) + ".";
    c.rename(from + "norm1.linear", to + "img_mod.lin");
    c.rename(from + "norm1_context.linear", to + "txt_mod.lin");
    c.join({from + "attn.to_q", from + "attn.to_k", from + "attn.to_v"}, to + "img_attn.qkv");
    c.join({from + "attn.add_q_proj", from + "attn.add_k_proj", from + "attn.add_v_proj"}, to + "txt_attn.qkv");
    c.rename_scale(from + "attn.norm_q", to + "img_attn.norm.query_norm");
    c.rename_scale(from + "attn.norm_k", to + "img_attn.norm.key_norm");
    c.rename_scale(from + "attn.norm_added_q", to + "txt_attn.norm.query_norm");
    c.rename_scale(from + "attn.norm_added_k", to + "txt_attn.norm.key_norm");
    c.rename(from + "attn.to_out.0", to + "img_attn.proj");
    c.rename(from + "attn.to_add_out", to + "txt_attn.proj");
    c.rename(from + "ff.net.0.proj", to + "img_mlp.0");
    c.rename(from + "ff.net.2", to + "img_mlp.2");
    c.rename(from + "ff_context.net.0.proj", to + "txt_mlp.0");
    c.rename(from + "ff_context.net.2", to + "txt_mlp.2");
  }
  for (int n : indices_under(tensors, "single_transformer_blocks.")) {
    const std::string from = "single_transformer_blocks." + std::to_string(n) + ".";
    const std::string to = "single_blocks." + std::to_string(n) + ".";
    c.rename(from + "norm.linear", to + "modulation.lin");
    c.join({from + "attn.to_q", from + "attn.to_k", from + "attn.to_v", from + "proj_mlp"}, to + "linear1");
    c.rename_scale(from + "attn.norm_q", to + "norm.query_norm");
    c.rename_scale(from + "attn.norm_k", to + "norm.key_norm");
    c.rename(from + "proj_out", to + "linear2");
  }
  c.rename_swapping_halves("norm_out.linear", "final_layer.adaLN_modulation.1");
  c.rename("proj_out", "final_layer.linear");
  return c.finish();
}

StoredMap convert_diffusers_autoencoder(const StoredMap& tensors, const std::string& source) {
  LayoutConverter c(tensors, source, "FLUX autoencoder");
  for (const std::string coder : {"encoder", "decoder"}) {
    c.rename(coder + ".conv_in", coder + ".conv_in");
    c.rename(coder + ".conv_out", coder + ".conv_out");
    c.rename(coder + ".conv_norm_out", coder + ".norm_out");
    convert_mid(c, coder);
  }
  for (int level : indices_under(tensors, "encoder.down_blocks.")) {
    const std::string from = "encoder.down_blocks." + std::to_string(level) + ".";
    const std::string to = "encoder.down." + std::to_string(level) + ".";
    for (int block : indices_under(tensors, from + "resnets.")) {
      convert_resnet(c, from + "resnets." + std::to_string(block), to + "block." + std::to_string(block));
    }
    c.rename(from + "downsamplers.0.conv", to + "downsample.conv");
  }
  // diffusers lists decoder levels from the lowest resolution up; the reference
  // indexes them by resolution, highest first.
  const std::vector<int> up_levels = indices_under(tensors, "decoder.up_blocks.");
  for (int level : up_levels) {
    const std::string from = "decoder.up_blocks." + std::to_string(level) + ".";
    const std::string to = "decoder.up." + std::to_string(static_cast<int>(up_levels.size()) - 1 - level) + ".";
    for (int block : indices_under(tensors, from + "resnets.")) {
      convert_resnet(c, from + "resnets." + std::to_string(block), to + "block." + std::to_string(block));
    }
    c.rename(from + "upsamplers.0.conv", to + "upsample.conv");
  }
  // FLUX.2 (AutoencoderKLFlux2): the quant convs sit beside the coders, the
  // latent BatchNorm keeps its name.
  c.rename("quant_conv", "encoder.quant_conv");
  c.rename("post_quant_conv", "decoder.post_quant_conv");
  for (const char* name : {"bn.running_mean", "bn.running_var", "bn.num_batches_tracked"}) {
    if (c.has(name)) c.put(name, c.take(name));
  }
  return c.finish();
}

}  // namespace untwist
