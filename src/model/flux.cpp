#include "model/flux.h"

#include "io/weights.h"
#include "model/rope.h"
#include "util/errors.h"

namespace untwist {

namespace {

// Reads tensors of the checkpoint: on the CPU matrices as stored, the rest in
// the compute dtype; on another device everything in the compute dtype there.
// Keeps each one's name for error reports.
struct WeightLoader {
  const Weights& weights;
  at::ScalarType dtype;
  at::Device device;
  std::vector<std::pair<std::string, StoredTensor>>& named;

  at::Tensor get(const std::string& name, const std::vector<int64_t>& shape) const {
    at::Tensor tensor = weights.stored(name, shape).as(dtype).to(device);
    named.emplace_back(name, StoredTensor(tensor));
    return tensor;
  }
  Linear linear(const std::string& name, int64_t out, int64_t in, bool bias) const {
    StoredTensor weight = weights.stored(name + ".weight", {out, in});
    if (!device.is_cpu()) weight = StoredTensor(weight.as(dtype).to(device));
    named.emplace_back(name + ".weight", weight);
    return {weight, bias ? get(name + ".bias", {out}) : at::Tensor()};
  }
  MLPEmbedder embedder(const std::string& name, int64_t in, int64_t hidden) const {
    return {linear(name + ".in_layer", hidden, in, true), linear(name + ".out_layer", hidden, hidden, true)};
  }
  QKNorm qk_norm(const std::string& name, int64_t head_dim) const {
    return {get(name + ".query_norm.scale", {head_dim}), get(name + ".key_norm.scale", {head_dim})};
  }
};

at::Tensor embed(const MLPEmbedder& embedder, const at::Tensor& x) {
  return embedder.out_layer(at::silu(embedder.in_layer(x)));
}

at::Tensor layer_norm(const at::Tensor& x) { return at::layer_norm(x, {x.size(-1)}, {}, {}, 1e-6); }

// RMSNorm in float32, back to x's dtype, then scaled.
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& scale) {
  const at::Tensor wide = x.to(at::kFloat);
  const at::Tensor rrms = at::rsqrt(wide.pow(2).mean(-1, /*keepdim=*/true) + 1e-6);
  return (wide * rrms).to(x.scalar_type()) * scale;
}

// (shift, scale, gate) triples from the conditioning vector: n triples of [B, 1, hidden].
std::vector<at::Tensor> modulation(const Linear& lin, const at::Tensor& vec, int64_t triples) {
  return lin(at::silu(vec)).unsqueeze(1).chunk(3 * triples, -1);
}

at::Tensor modulate(const at::Tensor& x, const at::Tensor& shift, const at::Tensor& scale) {
  return (1 + scale) * layer_norm(x) + shift;
}

// [B, L, 3*H*D] -> q, k, v each [B, H, L, D]
std::vector<at::Tensor> split_qkv(const at::Tensor& qkv, int64_t heads) {
  const int64_t batch = qkv.size(0), length = qkv.size(1);
  const at::Tensor parts = qkv.reshape({batch, length, 3, heads, -1}).permute({2, 0, 3, 1, 4});  // [3, B, H, L, D]
  return {parts[0], parts[1], parts[2]};
}

at::Tensor attend(const AttentionHook* hook, const AttentionCall& call) {
  return hook ? hook->attend(call) : plain_attention(call);
}

void expect_shape(const char* name, const at::Tensor& tensor, const std::vector<int64_t>& expected) {
  if (!tensor.defined()) throw InputError(std::string("input '") + name + "' is missing");
  bool matches = tensor.dim() == static_cast<int64_t>(expected.size());
  for (size_t i = 0; matches && i < expected.size(); ++i) matches = expected[i] < 0 || tensor.size(i) == expected[i];
  if (!matches) {
    throw InputError(std::string("input '") + name + "' has shape " + shape_string(tensor.sizes().vec()) +
                     ", expected " + shape_string(expected) + " (-1: any)");
  }
}

}  // namespace

FluxModel::FluxModel(const Weights& weights, FluxConfig config, at::ScalarType compute_dtype, at::Device device)
    : config_(std::move(config)), dtype_(compute_dtype), device_(device) {
  const int64_t hidden = config_.hidden_size, head_dim = config_.head_dim(), mlp = config_.mlp_hidden;
  const WeightLoader load{weights, dtype_, device_, named_weights_};
  img_in = load.linear("img_in", hidden, config_.in_channels, true);
  txt_in = load.linear("txt_in", hidden, config_.context_in_dim, true);
  time_in = load.embedder("time_in", 256, hidden);
  vector_in = load.embedder("vector_in", config_.vec_in_dim, hidden);
  if (config_.guidance_embed) guidance_in = load.embedder("guidance_in", 256, hidden);

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

at::Tensor FluxModel::position_table(const at::Tensor& txt_ids, const at::Tensor& img_ids) const {
  const int64_t axes = static_cast<int64_t>(config_.axes_dim.size());
  expect_shape("txt_ids", txt_ids, {-1, -1, axes});
  expect_shape("img_ids", img_ids, {txt_ids.size(0), -1, axes});
  return rope_table(at::cat({txt_ids, img_ids}, 1), config_.axes_dim, config_.theta);
}

void FluxModel::check_inputs(const FluxInputs& in, const at::Tensor& pe) const {
  expect_shape("img", in.img, {-1, -1, config_.in_channels});
  const int64_t batch = in.img.size(0);
  expect_shape("txt", in.txt, {batch, -1, config_.context_in_dim});
  expect_shape("y", in.y, {batch, config_.vec_in_dim});
  expect_shape("timesteps", in.timesteps, {batch});
  if (config_.guidance_embed) expect_shape("guidance", in.guidance, {batch});
  expect_shape("pe", pe, {batch, 1, in.txt.size(1) + in.img.size(1), config_.head_dim() / 2, 2, 2});
}

std::pair<at::Tensor, at::Tensor> FluxModel::double_block(const DoubleStreamBlock& block, int index, at::Tensor img,
                                                          at::Tensor txt, const at::Tensor& vec,
                                                          const at::Tensor& pe, const AttentionHook* hook) const {
  const int64_t heads = config_.num_heads;
  const auto img_mod = modulation(block.img_mod, vec, 2);  // shift1, scale1, gate1, shift2, scale2, gate2
  const auto txt_mod = modulation(block.txt_mod, vec, 2);

  auto img_qkv = split_qkv(block.img_attn.qkv(modulate(img, img_mod[0], img_mod[1])), heads);
  auto txt_qkv = split_qkv(block.txt_attn.qkv(modulate(txt, txt_mod[0], txt_mod[1])), heads);
  const at::Tensor img_q = rms_norm(img_qkv[0], block.img_attn.norm.query_norm_scale).to(img_qkv[2].scalar_type());
  const at::Tensor img_k = rms_norm(img_qkv[1], block.img_attn.norm.key_norm_scale).to(img_qkv[2].scalar_type());
  const at::Tensor txt_q = rms_norm(txt_qkv[0], block.txt_attn.norm.query_norm_scale).to(txt_qkv[2].scalar_type());
  const at::Tensor txt_k = rms_norm(txt_qkv[1], block.txt_attn.norm.key_norm_scale).to(txt_qkv[2].scalar_type());

  AttentionCall call{{BlockKind::Double, index},
                     at::cat({txt_q, img_q}, 2),  // [B, H, L_txt + L_img, D]
                     at::cat({txt_k, img_k}, 2),
                     at::cat({txt_qkv[2], img_qkv[2]}, 2),
                     pe,
                     txt.size(1)};
  const at::Tensor attn = attend(hook, call);  // [B, L, hidden]
  const at::Tensor txt_attn = attn.narrow(1, 0, txt.size(1));
  const at::Tensor img_attn = attn.narrow(1, txt.size(1), img.size(1));

  img = img + img_mod[2] * block.img_attn.proj(img_attn);
  img = img + img_mod[5] * block.img_mlp_2(at::gelu(block.img_mlp_0(modulate(img, img_mod[3], img_mod[4])), "tanh"));
  txt = txt + txt_mod[2] * block.txt_attn.proj(txt_attn);
  txt = txt + txt_mod[5] * block.txt_mlp_2(at::gelu(block.txt_mlp_0(modulate(txt, txt_mod[3], txt_mod[4])), "tanh"));
  return {img, txt};
}

at::Tensor FluxModel::single_block(const SingleStreamBlock& block, int index, at::Tensor x, const at::Tensor& vec,
                                   const at::Tensor& pe, int64_t txt_len, const AttentionHook* hook) const {
  const int64_t hidden = config_.hidden_size;
  const auto mod = modulation(block.modulation, vec, 1);  // shift, scale, gate
  const at::Tensor fused = block.linear1(modulate(x, mod[0], mod[1]));  // [B, L, 3 hidden + mlp]
  auto qkv = split_qkv(fused.narrow(-1, 0, 3 * hidden), config_.num_heads);
  const at::Tensor mlp = fused.narrow(-1, 3 * hidden, config_.mlp_hidden);
  const at::Tensor q = rms_norm(qkv[0], block.norm.query_norm_scale).to(qkv[2].scalar_type());
  const at::Tensor k = rms_norm(qkv[1], block.norm.key_norm_scale).to(qkv[2].scalar_type());
  const at::Tensor attn = attend(hook, {{BlockKind::Single, index}, q, k, qkv[2], pe, txt_len});  // [B, L, hidden]
  const at::Tensor out = block.linear2(at::cat({attn, at::gelu(mlp, "tanh")}, 2));
  return x + mod[2] * out;
}

at::Tensor FluxModel::forward(const FluxInputs& in, const at::Tensor& pe, const AttentionHook* hook) const {
  return run_stages(in, pe, hook, nullptr);
}

std::optional<NonFiniteSite> FluxModel::locate_non_finite(const FluxInputs& in, const at::Tensor& pe,
                                                          const AttentionHook* hook) const {
  std::optional<NonFiniteSite> site;
  const StageProbe probe = [&](const std::string& stage, const at::Tensor& stream) {
    const at::Tensor bad_rows = at::logical_not(at::isfinite(stream).flatten(1).all(1)).nonzero();  // [n, 1]
    if (bad_rows.size(0) == 0) return true;
    site = NonFiniteSite{stage, bad_rows[0][0].item<int64_t>()};
    return false;
  };
  run_stages(in, pe, hook, &probe);
  return site;
}

std::string FluxModel::first_non_finite_weight() const {
  for (const auto& [name, tensor] : named_weights_) {  // one decoded tensor at a time
    if (!at::isfinite(tensor.decoded()).all().item<bool>()) return name;
  }
  return "";
}

at::Tensor FluxModel::run_stages(const FluxInputs& in, const at::Tensor& pe, const AttentionHook* hook,
                                 const StageProbe* probe) const {
  check_inputs(in, pe);
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
  if (probe && !(*probe)("the input embedding", at::cat({img.flatten(1), txt.flatten(1), vec}, 1))) return {};

  for (size_t n = 0; n < double_blocks.size(); ++n) {
    std::tie(img, txt) = double_block(double_blocks[n], static_cast<int>(n), img, txt, vec, pe_here, hook);
    if (probe && !(*probe)("double block " + std::to_string(n), at::cat({txt, img}, 1))) return {};
  }
  const int64_t txt_len = txt.size(1);
  at::Tensor x = at::cat({txt, img}, 1);  // [B, L_txt + L_img, hidden]
  for (size_t n = 0; n < single_blocks.size(); ++n) {
    x = single_block(single_blocks[n], static_cast<int>(n), x, vec, pe_here, txt_len, hook);
    if (probe && !(*probe)("single block " + std::to_string(n), x)) return {};
  }
  img = x.narrow(1, txt_len, x.size(1) - txt_len);  // [B, L_img, hidden]

  const auto shift_scale = final_layer_adaLN_modulation_1(at::silu(vec)).chunk(2, 1);
  img = (1 + shift_scale[1].unsqueeze(1)) * layer_norm(img) + shift_scale[0].unsqueeze(1);
  const at::Tensor velocity = final_layer_linear(img).to(in.img.device(), at::kFloat);  // [B, L_img, out_channels]
  if (probe) (*probe)("the final layer", velocity);
  return velocity;
}

}  // namespace untwist
