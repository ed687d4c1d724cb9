#include "model/dit_layers.h"

#include "io/weights.h"
#include "model/rope_config.h"
#include "util/errors.h"

namespace untwist {

at::Tensor WeightLoader::get(const std::string& name, const std::vector<int64_t>& shape) const {
  at::Tensor tensor = weights.stored(name, shape).as(dtype).to(device);
  named.emplace_back(name, StoredTensor(tensor));
  return tensor;
}

Linear WeightLoader::linear(const std::string& name, int64_t out, int64_t in, bool bias) const {
  StoredTensor weight = weights.stored(name + ".weight", {out, in});
  if (!device.is_cpu()) weight = StoredTensor(weight.as(dtype).to(device));
  named.emplace_back(name + ".weight", weight);
  return {weight, bias ? get(name + ".bias", {out}) : at::Tensor()};
}

MLPEmbedder WeightLoader::embedder(const std::string& name, int64_t in, int64_t hidden, bool bias) const {
  return {linear(name + ".in_layer", hidden, in, bias), linear(name + ".out_layer", hidden, hidden, bias)};
}

QKNorm WeightLoader::qk_norm(const std::string& name, int64_t head_dim) const {
  return {get(name + ".query_norm.scale", {head_dim}), get(name + ".key_norm.scale", {head_dim})};
}

at::Tensor embed(const MLPEmbedder& embedder, const at::Tensor& x) {
  return embedder.out_layer(at::silu(embedder.in_layer(x)));
}

at::Tensor layer_norm(const at::Tensor& x) {
  if (x.scalar_type() == at::kFloat) return at::layer_norm(x, {x.size(-1)}, {}, {}, 1e-6);
  return at::layer_norm(x.to(at::kFloat), {x.size(-1)}, {}, {}, 1e-6).to(x.scalar_type());
}

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& scale) {
  const at::Tensor wide = x.to(at::kFloat);
  const at::Tensor rrms = at::rsqrt(wide.pow(2).mean(-1, /*keepdim=*/true) + 1e-6);
  return (wide * rrms).to(x.scalar_type()) * scale;
}

std::pair<at::Tensor, at::Tensor> qk_norm(const QKNorm& norm, const at::Tensor& q, const at::Tensor& k,
                                          const at::Tensor& v) {
  return {rms_norm(q, norm.query_norm_scale).to(v.scalar_type()), rms_norm(k, norm.key_norm_scale).to(v.scalar_type())};
}

at::Tensor modulate(const at::Tensor& x, const at::Tensor& shift, const at::Tensor& scale) {
  return (1 + scale) * layer_norm(x) + shift;
}

std::vector<at::Tensor> modulation(const Linear& lin, const at::Tensor& vec, int64_t count) {
  return lin(at::silu(vec)).unsqueeze(1).chunk(count, -1);
}

std::vector<at::Tensor> split_qkv(const at::Tensor& qkv, int64_t heads) {
  const int64_t batch = qkv.size(0), length = qkv.size(1);
  const at::Tensor parts = qkv.reshape({batch, length, 3, heads, -1}).permute({2, 0, 3, 1, 4});  // [3, B, H, L, D]
  return {parts[0], parts[1], parts[2]};
}

at::Tensor attend(const AttentionHook* hook, const AttentionCall& call) {
  return hook ? hook->attend(call) : plain_attention(call);
}

at::Tensor StagedTransformer::forward(const DitInputs& inputs, const at::Tensor& pe, const AttentionHook* hook) const {
  return run_stages(inputs, pe, hook, nullptr);
}

bool probe_inputs(const StageProbe& probe, const at::Tensor& img, const at::Tensor& txt, const at::Tensor& vec) {
  return probe("img_in", img) && probe("txt_in", txt) && probe("vec", vec);
}

bool probe_double_block(const StageProbe& probe, size_t index, const at::Tensor& img, const at::Tensor& txt) {
  const std::string block = "double_blocks." + std::to_string(index);
  return probe(block + ".img", img) && probe(block + ".txt", txt);
}

at::Tensor StagedTransformer::forward_probed(const DitInputs& inputs, const at::Tensor& pe, const AttentionHook* hook,
                                             const StageProbe& probe) const {
  return run_stages(inputs, pe, hook, &probe);
}

std::string StagedTransformer::first_non_finite_weight() const {
  for (const auto& [name, tensor] : named_weights_) {  // one decoded tensor at a time
    if (!at::isfinite(tensor.decoded()).all().item<bool>()) return name;
  }
  return "";
}

int64_t qk_norm_head_dim(const Weights& weights, int64_t hidden_size, int64_t depth, int64_t depth_single_blocks) {
  if (depth == 0 && depth_single_blocks == 0) {
    fail_file(weights.source(), "transformer without any double_blocks or single_blocks");
  }
  const std::string scale =
      depth > 0 ? "double_blocks.0.img_attn.norm.query_norm.scale" : "single_blocks.0.norm.query_norm.scale";
  const int64_t head_dim = dim_of(weights, scale, 0);
  if (head_dim <= 0 || hidden_size % head_dim != 0) {
    fail_file(weights.source(), "qk-norm scale length " + std::to_string(head_dim) +
                                    " does not divide the hidden size " + std::to_string(hidden_size));
  }
  return head_dim;
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

}  // namespace untwist
