#include "model/flux1/flux.h"

#include "io/weights.h"
#include "model/activations.h"
#include "model/flux1/packing.h"
#include "model/rope.h"
#include "model/flow_schedule.h"
#include "util/errors.h"

namespace untwist {

FluxModel::FluxModel(const Weights& weights, FluxConfig config, at::ScalarType compute_dtype, at::Device device)
    : config_(std::move(config)),
      rope_{config_.axes_dim, {AxisRole::Index, AxisRole::Row, AxisRole::Column}, config_.theta},
      dtype_(compute_dtype),
      device_(device) {
  if (config_.axes_dim.size() != 3) {
    throw DataError("a FLUX.1 transformer has 3 RoPE axes, not " + std::to_string(config_.axes_dim.size()));
  }
  const int64_t hidden = config_.hidden_size, head_dim = config_.head_dim(), mlp = config_.mlp_hidden;
  const WeightLoader load{weights, dtype_, device_, named_weights_};
  img_in = load.linear("img_in", hidden, config_.in_channels, true);
  txt_in = load.linear("txt_in", hidden, config_.context_in_dim, true);
  time_in = load.embedder("time_in", 256, hidden, true);
  vector_in = load.embedder("vector_in", config_.vec_in_dim, hidden, true);
  if (config_.guidance_embed) guidance_in = load.embedder("guidance_in", 256, hidden, true);

  for (int64_t n = 0; n < config_.depth; ++n) {
    const std::string prefix = "double_blocks." + std::to_string(n) + ".";
    DoubleStreamBlock block;
    block.img_mod = load.linear(prefix + "img_mod.lin", 6 * hidden, hidden, true);
    block.txt_mod = load.linear(prefix + "txt_mod.lin", 6 * hidden, hidden, true);
    for (const char* stream : {"img", "txt"}) {
      const std::string attn = prefix + stream + "_attn";
      SelfAttentionWeights& target = std::string(stream) == "img" ? block.img_attn : block.txt_attn;
      target.qkv = load.linear(attn + ".qkv", 3 * hidden, hidden, config_.qkv_bias);
      target.norm = load.qk_norm(attn + ".norm", head_dim);
      target.proj = load.linear(attn + ".proj", hidden, hidden, true);
    }
    block.img_mlp_0 = load.linear(prefix + "img_mlp.0", mlp, hidden, true);
    block.img_mlp_2 = load.linear(prefix + "img_mlp.2", hidden, mlp, true);
    block.txt_mlp_0 = load.linear(prefix + "txt_mlp.0", mlp, hidden, true);
    block.txt_mlp_2 = load.linear(prefix + "txt_mlp.2", hidden, mlp, true);
    double_blocks.push_back(std::move(block));
  }
  for (int64_t n = 0; n < config_.depth_single_blocks; ++n) {
    const std::string prefix = "single_blocks." + std::to_string(n) + ".";
    SingleStreamBlock block;
    block.linear1 = load.linear(prefix + "linear1", 3 * hidden + mlp, hidden, true);
    block.linear2 = load.linear(prefix + "linear2", hidden, hidden + mlp, true);
    block.norm = load.qk_norm(prefix + "norm", head_dim);
    block.modulation = load.linear(prefix + "modulation.lin", 3 * hidden, hidden, true);
    single_blocks.push_back(std::move(block));
  }
  final_layer_adaLN_modulation_1 =
      load.linear("final_layer.adaLN_modulation.1", 2 * hidden, hidden, true);
  final_layer_linear = load.linear("final_layer.linear", config_.out_channels, hidden, true);
}

std::vector<BlockGroup> FluxModel::block_groups() const {
  return {{"double", config_.depth}, {"single", config_.depth_single_blocks}};
}

at::Tensor FluxModel::image_ids(int64_t batch, int64_t h, int64_t w) const { return image_position_ids(batch, h, w); }

at::Tensor FluxModel::text_ids(int64_t batch, int64_t length) const { return at::zeros({batch, length, 3}); }

std::vector<double> FluxModel::schedule(int num_steps, int64_t image_tokens, std::optional<bool> shift) const {
  return flux_schedule(num_steps, image_tokens, shift.value_or(config_.guidance_embed));
}

at::Tensor FluxModel::position_table(const DitInputs& in) const {
  expect_shape("txt_ids", in.txt_ids, {-1, -1, 3});
  expect_shape("img_ids", in.img_ids, {in.txt_ids.size(0), -1, 3});
  return rope_table(at::cat({in.txt_ids, in.img_ids}, 1), config_.axes_dim, config_.theta);
}

void FluxModel::check_inputs(const DitInputs& in, const at::Tensor& pe) const {
  expect_shape("img", in.img, {-1, -1, config_.in_channels});
  const int64_t batch = in.img.size(0);
  expect_shape("img_ids", in.img_ids, {batch, in.img.size(1), 3});
  expect_shape("txt", in.txt, {batch, -1, config_.context_in_dim});
  expect_shape("y", in.y, {batch, config_.vec_in_dim});
  expect_shape("timesteps", in.timesteps, {batch});
  if (config_.guidance_embed) expect_shape("guidance", in.guidance, {batch});
  if (in.cond.defined()) throw InputError("FLUX.1 takes no in-context image tokens");
  expect_shape("pe", pe, {batch, 1, in.txt.size(1) + in.img.size(1), config_.head_dim() / 2, 2, 2});
}

std::pair<at::Tensor, at::Tensor> FluxModel::double_block(const DoubleStreamBlock& block, int index, at::Tensor img,
                                                          at::Tensor txt, const at::Tensor& vec,
                                                          const at::Tensor& pe, const std::vector<ImageSpan>& image,
                                                          const AttentionHook* hook) const {
  const int64_t heads = config_.num_heads;
  const auto img_mod = modulation(block.img_mod, vec, 6);  // ModulationChunk order
  const auto txt_mod = modulation(block.txt_mod, vec, 6);

  auto img_qkv = split_qkv(block.img_attn.qkv(modulate(img, img_mod[kAttnShift], img_mod[kAttnScale])), heads);
  auto txt_qkv = split_qkv(block.txt_attn.qkv(modulate(txt, txt_mod[kAttnShift], txt_mod[kAttnScale])), heads);
  const auto [img_q, img_k] = qk_norm(block.img_attn.norm, img_qkv[0], img_qkv[1], img_qkv[2]);
  const auto [txt_q, txt_k] = qk_norm(block.txt_attn.norm, txt_qkv[0], txt_qkv[1], txt_qkv[2]);

  const AttentionCall call{{"double", index},
                           at::cat({txt_q, img_q}, 2),  // [B, H, L_txt + L_img, D]
                           at::cat({txt_k, img_k}, 2),
                           at::cat({txt_qkv[2], img_qkv[2]}, 2),
                           pe,
                           image,
                           &rope_,
                           {}};
  const at::Tensor attn = attend(hook, call);  // [B, L, hidden]
  const at::Tensor txt_attn = attn.narrow(1, 0, txt.size(1));
  const at::Tensor img_attn = attn.narrow(1, txt.size(1), img.size(1));

  img = img + img_mod[kAttnGate] * block.img_attn.proj(img_attn);
  img = img + img_mod[kMlpGate] * block.img_mlp_2(gelu_tanh(
                                      block.img_mlp_0(modulate(img, img_mod[kMlpShift], img_mod[kMlpScale]))));
  txt = txt + txt_mod[kAttnGate] * block.txt_attn.proj(txt_attn);
  txt = txt + txt_mod[kMlpGate] * block.txt_mlp_2(gelu_tanh(
                                      block.txt_mlp_0(modulate(txt, txt_mod[kMlpShift], txt_mod[kMlpScale]))));
  return {img, txt};
}

at::Tensor FluxModel::single_block(const SingleStreamBlock& block, int index, at::Tensor x, const at::Tensor& vec,
                                   const at::Tensor& pe, const std::vector<ImageSpan>& image,
                                   const AttentionHook* hook) const {
  const int64_t hidden = config_.hidden_size;
  const auto mod = modulation(block.modulation, vec, 3);  // attention shift, scale, gate
  const at::Tensor fused = block.linear1(modulate(x, mod[kAttnShift], mod[kAttnScale]));  // [B, L, 3 hidden + mlp]
  auto qkv = split_qkv(fused.narrow(-1, 0, 3 * hidden), config_.num_heads);
  const at::Tensor mlp = fused.narrow(-1, 3 * hidden, config_.mlp_hidden);
  const auto [q, k] = qk_norm(block.norm, qkv[0], qkv[1], qkv[2]);
  const at::Tensor attn = attend(hook, {{"single", index}, q, k, qkv[2], pe, image, &rope_, {}});  // [B, L, hidden]
  const at::Tensor out = block.linear2(at::cat({attn, gelu_tanh(mlp)}, 2));
  return x + mod[kAttnGate] * out;
}

at::Tensor FluxModel::run_stages(const DitInputs& in, const at::Tensor& pe, const AttentionHook* hook,
                                 const StageProbe* probe) const {
  check_inputs(in, pe);
  const auto [rows, cols] = token_grid(in.img_ids, rope_);
  const std::vector<ImageSpan> image(in.img.size(0), ImageSpan{in.txt.size(1), in.img.size(1), rows, cols});
  // Inputs move to the model's device; the velocity comes back to img's.
  const at::TensorOptions compute = at::TensorOptions().dtype(dtype_).device(device_);
  const at::Tensor pe_here = pe.to(device_);
  at::Tensor img = img_in(in.img.to(compute));  // [B, L_img, hidden]
  at::Tensor txt = txt_in(in.txt.to(compute));  // [B, L_txt, hidden]
  at::Tensor vec = embed(time_in, timestep_embedding(in.timesteps.to(device_), 256).to(dtype_));  // [B, hidden]
  if (config_.guidance_embed) {
    vec = vec + embed(guidance_in, timestep_embedding(in.guidance.to(device_), 256).to(dtype_));
  }
  vec = vec + embed(vector_in, in.y.to(compute));
  if (probe && !probe_inputs(*probe, img, txt, vec)) return {};

  for (size_t n = 0; n < double_blocks.size(); ++n) {
    std::tie(img, txt) = double_block(double_blocks[n], static_cast<int>(n), img, txt, vec, pe_here, image, hook);
    if (probe && !probe_double_block(*probe, n, img, txt)) return {};
  }
  const int64_t txt_len = txt.size(1);
  at::Tensor x = at::cat({txt, img}, 1);  // [B, L_txt + L_img, hidden]
  for (size_t n = 0; n < single_blocks.size(); ++n) {
    x = single_block(single_blocks[n], static_cast<int>(n), x, vec, pe_here, image, hook);
    if (probe && !(*probe)("single_blocks." + std::to_string(n), x)) return {};
  }
  img = x.narrow(1, txt_len, x.size(1) - txt_len);  // [B, L_img, hidden]

  const auto shift_scale = final_layer_adaLN_modulation_1(at::silu(vec)).chunk(2, 1);
  img = (1 + shift_scale[1].unsqueeze(1)) * layer_norm(img) + shift_scale[0].unsqueeze(1);
  const at::Tensor velocity = final_layer_linear(img).to(in.img.device(), at::kFloat);  // [B, L_img, out_channels]
  if (probe) (*probe)("final_layer", velocity);
  return velocity;
}

}  // namespace untwist
