#include "model/t5_encoder.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "io/weights.h"
#include "model/activations.h"
#include "util/errors.h"

namespace untwist {

namespace {

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps) {
  return weight * (x * at::rsqrt(x.pow(2).mean(-1, /*keepdim=*/true) + eps));
}

}  // namespace

T5Config detect_t5_config(const Weights& weights) {
  const std::string bias_name = "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight";
  if (!weights.has(bias_name)) {
    fail_file(weights.source(), "not a T5 encoder: tensor '" + bias_name + "' is missing");
  }
  const std::string embedding_name = weights.has("shared.weight") ? "shared.weight" : "encoder.embed_tokens.weight";
  T5Config config;
  const at::Tensor embedding = weights.get(embedding_name);
  const at::Tensor bias = weights.get(bias_name);
  if (embedding.dim() != 2 || bias.dim() != 2) fail_file(weights.source(), "T5 embedding or bias is not a matrix");
  config.vocab_size = embedding.size(0);
  config.d_model = embedding.size(1);
  config.num_buckets = bias.size(0);
  config.num_heads = bias.size(1);
  const int64_t inner = weights.get("encoder.block.0.layer.0.SelfAttention.q.weight").size(0);
  if (inner % config.num_heads != 0) {
    fail_file(weights.source(), "T5 attention width " + std::to_string(inner) + " is not a multiple of " +
                                    std::to_string(config.num_heads) + " heads");
  }
  config.d_kv = inner / config.num_heads;
  config.d_ff = weights.get("encoder.block.0.layer.1.DenseReluDense.wi_0.weight").size(0);
  config.num_layers = static_cast<int64_t>(weights.indices_under("encoder.block.").size());
  const nlohmann::json meta = weights.metadata_config();
  if (meta.contains("relative_attention_max_distance") && meta["relative_attention_max_distance"].is_number_integer())
    config.max_distance = meta["relative_attention_max_distance"].get<int64_t>();
  if (meta.contains("layer_norm_epsilon") && meta["layer_norm_epsilon"].is_number())
    config.layer_norm_epsilon = meta["layer_norm_epsilon"].get<double>();
  return config;
}

at::Tensor t5_relative_position_bucket(const at::Tensor& relative_position, int64_t num_buckets,
                                       int64_t max_distance) {
  const int64_t half = num_buckets / 2;
  at::Tensor buckets = (relative_position > 0).to(at::kLong) * half;
  const at::Tensor distance = relative_position.abs();
  const int64_t max_exact = half / 2;
  const at::Tensor is_small = distance < max_exact;
  // the reference computes the log in float32 and truncates toward zero
  const at::Tensor scaled = at::log(distance.to(at::kFloat) / static_cast<float>(max_exact)) /
                            static_cast<float>(std::log(static_cast<double>(max_distance) / max_exact)) *
                            static_cast<float>(half - max_exact);
  at::Tensor large = max_exact + scaled.to(at::kLong);
  large = at::minimum(large, at::full_like(large, half - 1));
  return buckets + at::where(is_small, distance, large);
}

T5Encoder::T5Encoder(const Weights& weights, T5Config config) : config_(std::move(config)) {
  const int64_t d = config_.d_model, inner = config_.num_heads * config_.d_kv, ff = config_.d_ff;
  const auto f32 = [](const at::Tensor& t) { return t.to(at::kFloat); };
  embedding = f32(weights.get(weights.has("shared.weight") ? "shared.weight" : "encoder.embed_tokens.weight",
                              {config_.vocab_size, d}));
  relative_bias = f32(weights.get("encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
                                  {config_.num_buckets, config_.num_heads}));
  for (int64_t n = 0; n < config_.num_layers; ++n) {
    const std::string p = "encoder.block." + std::to_string(n) + ".layer.";
    Block block;
    block.attention_norm = f32(weights.get(p + "0.layer_norm.weight", {d}));
    block.q.weight = weights.stored(p + "0.SelfAttention.q.weight", {inner, d});
    block.k.weight = weights.stored(p + "0.SelfAttention.k.weight", {inner, d});
    block.v.weight = weights.stored(p + "0.SelfAttention.v.weight", {inner, d});
    block.o.weight = weights.stored(p + "0.SelfAttention.o.weight", {d, inner});
    block.ff_norm = f32(weights.get(p + "1.layer_norm.weight", {d}));
    block.wi_0.weight = weights.stored(p + "1.DenseReluDense.wi_0.weight", {ff, d});
    block.wi_1.weight = weights.stored(p + "1.DenseReluDense.wi_1.weight", {ff, d});
    block.wo.weight = weights.stored(p + "1.DenseReluDense.wo.weight", {d, ff});
    blocks.push_back(std::move(block));
  }
  final_layer_norm = f32(weights.get("encoder.final_layer_norm.weight", {d}));
}

at::Tensor T5Encoder::forward(const at::Tensor& input_ids, const at::Tensor& attention_mask) const {
  if (input_ids.dim() != 2) {
    throw InputError("T5 input_ids must be [B, L], got " + shape_string(input_ids.sizes().vec()));
  }
  const at::Tensor ids = input_ids.to(at::kLong);
  if (ids.numel() > 0 && (ids.min().item<int64_t>() < 0 || ids.max().item<int64_t>() >= config_.vocab_size)) {
    throw InputError("T5 input_ids outside the vocabulary of " + std::to_string(config_.vocab_size));
  }
  const int64_t batch = ids.size(0), length = ids.size(1), heads = config_.num_heads;
  at::Tensor x = at::embedding(embedding, ids);  // [B, L, d]

  const at::Tensor positions = at::arange(length, at::kLong);
  const at::Tensor relative = positions.unsqueeze(0) - positions.unsqueeze(1);  // [q, k] = key - query
  const at::Tensor buckets = t5_relative_position_bucket(relative, config_.num_buckets, config_.max_distance);
  at::Tensor bias = at::embedding(relative_bias, buckets).permute({2, 0, 1}).unsqueeze(0);  // [1, H, L, L]
  if (attention_mask.defined()) {
    const at::Tensor keep = attention_mask.to(at::kFloat).reshape({batch, 1, 1, length});
    bias = bias + (1.0 - keep) * std::numeric_limits<float>::lowest();
  }

  auto split_heads = [&](const at::Tensor& t) {  // [B, L, H*d_kv] -> [B, H, L, d_kv]
    return t.reshape({batch, length, heads, config_.d_kv}).transpose(1, 2);
  };
  for (const Block& block : blocks) {
    const at::Tensor h = rms_norm(x, block.attention_norm, config_.layer_norm_epsilon);
    const at::Tensor q = split_heads(block.q(h)), k = split_heads(block.k(h));
    const at::Tensor v = split_heads(block.v(h));
    const at::Tensor weights = at::softmax(at::matmul(q, k.transpose(-1, -2)) + bias, -1);  // no 1/sqrt(d) in T5
    const at::Tensor attended = at::matmul(weights, v).transpose(1, 2).reshape({batch, length, heads * config_.d_kv});
    x = x + block.o(attended);
    const at::Tensor f = rms_norm(x, block.ff_norm, config_.layer_norm_epsilon);
    x = x + block.wo(gelu_tanh(block.wi_0(f)) * block.wi_1(f));
  }
  return rms_norm(x, final_layer_norm, config_.layer_norm_epsilon);  // [B, L, d]
}

}  // namespace untwist
