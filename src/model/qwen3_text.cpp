#include "model/qwen3_text.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "io/weights.h"
#include "model/activations.h"
#include "util/errors.h"

namespace untwist {

namespace {

const std::string kEmbedding = "embed_tokens.weight";
const std::string kFirstQueryNorm = "layers.0.self_attn.q_norm.weight";

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Normalised over the last dimension in float32, then scaled (HF's Qwen3RMSNorm).
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps) {
  const at::Tensor x32 = x.to(at::kFloat);
  return weight * (x32 * at::rsqrt(x32.pow(2).mean(-1, /*keepdim=*/true) + eps));
}

// (x1, x2) -> (-x2, x1) over the two halves of the last dimension.
at::Tensor rotate_half(const at::Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  return at::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
}

// x: [B, H, L, D], cos and sin: [L, D]
at::Tensor apply_rotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  return x * cos + rotate_half(x) * sin;
}

}  // namespace

std::string qwen3_weight_prefix(const Weights& weights) {
  std::vector<std::string> prefixes;
  for (const auto& name : weights.names()) {
    if (!ends_with(name, kEmbedding)) continue;
    const std::string prefix = name.substr(0, name.size() - kEmbedding.size());
    if ((prefix.empty() || prefix.back() == '.') && weights.has(prefix + kFirstQueryNorm)) prefixes.push_back(prefix);
  }
  if (prefixes.empty()) {
    fail_file(weights.source(), "not a Qwen3 model: no '" + kEmbedding + "' with '" + kFirstQueryNorm + "' beside it");
  }
  if (prefixes.size() > 1) {
    fail_file(weights.source(),
              "holds more than one Qwen3 model: under '" + prefixes[0] + "' and '" + prefixes[1] + "'");
  }
  return prefixes.front();
}

Qwen3Config detect_qwen3_config(const Weights& weights) {
  const std::string p = qwen3_weight_prefix(weights);
  Qwen3Config config;
  const auto sizes = [&](const std::string& name, size_t dims) {
    const std::vector<int64_t> shape = weights.shape(name);
    if (shape.size() != dims) {
      fail_file(weights.source(), "tensor '" + name + "' has shape " + shape_string(shape) + ", expected " +
                                      std::to_string(dims) + " dimensions");
    }
    return shape;
  };
  const auto embedding = sizes(p + kEmbedding, 2);
  config.vocab_size = embedding[0];
  config.hidden_size = embedding[1];
  config.head_dim = sizes(p + kFirstQueryNorm, 1)[0];
  const int64_t q_width = sizes(p + "layers.0.self_attn.q_proj.weight", 2)[0];
  const int64_t kv_width = sizes(p + "layers.0.self_attn.k_proj.weight", 2)[0];
  if (config.head_dim <= 0 || q_width % config.head_dim != 0 || kv_width % config.head_dim != 0) {
    fail_file(weights.source(), "Qwen3 query width " + std::to_string(q_width) + " and key width " +
                                    std::to_string(kv_width) + " are not multiples of head_dim " +
                                    std::to_string(config.head_dim) + " (the size of q_norm)");
  }
  config.num_heads = q_width / config.head_dim;
  config.num_kv_heads = kv_width / config.head_dim;
  if (config.num_kv_heads == 0 || config.num_heads % config.num_kv_heads != 0) {
    fail_file(weights.source(), "Qwen3 " + std::to_string(config.num_heads) + " query heads do not share " +
                                    std::to_string(config.num_kv_heads) + " key/value heads evenly");
  }
  config.intermediate_size = sizes(p + "layers.0.mlp.gate_proj.weight", 2)[0];
  config.num_layers = weights.indices_under(p + "layers.").back() + 1;  // a gap is reported when the layer is read
  const nlohmann::json meta = weights.metadata_config();
  if (meta.contains("rms_norm_eps") && meta["rms_norm_eps"].is_number())
    config.rms_norm_eps = meta["rms_norm_eps"].get<double>();
  for (const char* key : {"rope_theta", "rope_base"}) {
    if (meta.contains(key) && meta[key].is_number()) config.rope_theta = meta[key].get<double>();
  }
  return config;
}

at::Tensor stack_on_channels(const std::vector<at::Tensor>& hidden_states) {
  return at::cat(hidden_states, -1);  // [B, L, n*D]
}

Qwen3TextEncoder::Qwen3TextEncoder(const Weights& weights, Qwen3Config config, std::vector<int64_t> output_layers)
    : config_(std::move(config)), output_layers_(std::move(output_layers)) {
  if (output_layers_.empty()) throw UsageError("Qwen3 text encoder: no output layers asked for");
  for (const int64_t layer : output_layers_) {
    if (layer < 0 || layer > config_.num_layers) {
      throw UsageError("Qwen3 output layer " + std::to_string(layer) + " is outside 0.." +
                       std::to_string(config_.num_layers) + " (the model has " +
                       std::to_string(config_.num_layers) + " layers)");
    }
  }
  const std::string prefix = qwen3_weight_prefix(weights);
  const int64_t d = config_.hidden_size, hd = config_.head_dim, inter = config_.intermediate_size;
  const int64_t q_width = config_.num_heads * hd, kv_width = config_.num_kv_heads * hd;
  const auto f32 = [&](const std::string& name, std::vector<int64_t> shape) {
    return weights.get(prefix + name, shape).to(at::kFloat);
  };
  const auto linear = [&](const std::string& name, std::vector<int64_t> shape) {
    return Linear{weights.stored(prefix + name, shape), {}};
  };
  embed_tokens_ = weights.stored(prefix + kEmbedding, {config_.vocab_size, d});
  const int64_t needed = *std::max_element(output_layers_.begin(), output_layers_.end());
  for (int64_t n = 0; n < needed; ++n) {
    const std::string p = "layers." + std::to_string(n) + ".";
    Layer layer;
    layer.input_layernorm = f32(p + "input_layernorm.weight", {d});
    layer.q_proj = linear(p + "self_attn.q_proj.weight", {q_width, d});
    layer.k_proj = linear(p + "self_attn.k_proj.weight", {kv_width, d});
    layer.v_proj = linear(p + "self_attn.v_proj.weight", {kv_width, d});
    layer.o_proj = linear(p + "self_attn.o_proj.weight", {d, q_width});
    layer.q_norm = f32(p + "self_attn.q_norm.weight", {hd});
    layer.k_norm = f32(p + "self_attn.k_norm.weight", {hd});
    layer.post_attention_layernorm = f32(p + "post_attention_layernorm.weight", {d});
    layer.gate_proj = linear(p + "mlp.gate_proj.weight", {inter, d});
    layer.up_proj = linear(p + "mlp.up_proj.weight", {inter, d});
    layer.down_proj = linear(p + "mlp.down_proj.weight", {d, inter});
    layers_.push_back(std::move(layer));
  }
  if (needed == config_.num_layers) norm_ = f32("norm.weight", {d});
}

at::Tensor Qwen3TextEncoder::attention(const Layer& layer, const at::Tensor& x, const at::Tensor& cos,
                                       const at::Tensor& sin, const at::Tensor& allowed) const {
  const int64_t batch = x.size(0), length = x.size(1), hd = config_.head_dim;
  const int64_t heads = config_.num_heads, kv_heads = config_.num_kv_heads, group = heads / kv_heads;
  const double eps = config_.rms_norm_eps;
  const auto heads_of = [&](const at::Tensor& t, int64_t n) {  // [B, L, n*hd] -> [B, L, n, hd]
    return t.reshape({batch, length, n, hd});
  };
  const at::Tensor h = rms_norm(x, layer.input_layernorm, eps);
  const at::Tensor q = apply_rotary(rms_norm(heads_of(layer.q_proj(h), heads), layer.q_norm, eps).transpose(1, 2), cos,
                                    sin);  // [B, H, L, hd]
  const at::Tensor k = apply_rotary(rms_norm(heads_of(layer.k_proj(h), kv_heads), layer.k_norm, eps).transpose(1, 2),
                                    cos, sin);                              // [B, KV, L, hd]
  const at::Tensor v = heads_of(layer.v_proj(h), kv_heads).transpose(1, 2);  // [B, KV, L, hd]
  // Query head j reads key/value head j / group: the queries of one group share a broadcast key head.
  const at::Tensor grouped_q = q.reshape({batch, kv_heads, group, length, hd});  // [B, KV, G, L, hd]
  at::Tensor scores = at::matmul(grouped_q, k.unsqueeze(2).transpose(-1, -2)) / std::sqrt(static_cast<double>(hd));
  scores = scores.masked_fill(allowed.logical_not(), std::numeric_limits<float>::lowest());  // [B, KV, G, L, L]
  const at::Tensor attended = at::matmul(at::softmax(scores, -1), v.unsqueeze(2));        // [B, KV, G, L, hd]
  const at::Tensor merged =
      attended.reshape({batch, heads, length, hd}).transpose(1, 2).reshape({batch, length, heads * hd});  // [B, L, H*hd]
  return layer.o_proj(merged);
}

std::vector<at::Tensor> Qwen3TextEncoder::hidden_states(const at::Tensor& input_ids,
                                                        const at::Tensor& attention_mask) const {
  if (input_ids.dim() != 2 || input_ids.size(1) == 0) {
    throw InputError("Qwen3 input_ids must be [B, L] with L >= 1, got " + shape_string(input_ids.sizes().vec()));
  }
  const at::Tensor ids = input_ids.to(at::kLong);
  if (ids.min().item<int64_t>() < 0 || ids.max().item<int64_t>() >= config_.vocab_size) {
    throw InputError("Qwen3 input_ids outside the vocabulary of " + std::to_string(config_.vocab_size));
  }
  const int64_t batch = ids.size(0), length = ids.size(1), hd = config_.head_dim;
  if (attention_mask.defined() && attention_mask.sizes() != ids.sizes()) {
    throw InputError("Qwen3 attention_mask must have the shape of input_ids " + shape_string(ids.sizes().vec()) +
                     ", got " + shape_string(attention_mask.sizes().vec()));
  }

  // Key j is visible to query i when j <= i and j is not padding.
  at::Tensor allowed = at::ones({length, length}, at::kBool).tril();  // [L, L]
  if (attention_mask.defined()) {
    allowed = allowed & (attention_mask.to(at::kLong) != 0).reshape({batch, 1, 1, 1, length});  // [B, 1, 1, L, L]
  }
  // Rotate-half RoPE at positions 0..L-1, frequencies theta^(-2i/head_dim), in float32 as HF.
  const at::Tensor inv_freq =
      at::pow(config_.rope_theta, at::arange(0, hd, 2, at::kLong).to(at::kFloat) / static_cast<double>(hd))
          .reciprocal();                                                                  // [hd/2]
  const at::Tensor angles = at::arange(length, at::kFloat).unsqueeze(1) * inv_freq;       // [L, hd/2]
  const at::Tensor doubled = at::cat({angles, angles}, -1);                               // [L, hd]
  const at::Tensor cos = doubled.cos(), sin = doubled.sin();

  std::vector<at::Tensor> outputs(output_layers_.size());
  const auto keep = [&](int64_t index, const at::Tensor& state) {
    for (size_t i = 0; i < output_layers_.size(); ++i) {
      if (output_layers_[i] == index) outputs[i] = state;
    }
  };
  at::Tensor x = at::embedding(embed_tokens_.decoded(), ids).to(at::kFloat);  // [B, L, hidden]
  keep(0, x);
  for (int64_t n = 0; n < built_layers(); ++n) {
    const Layer& layer = layers_[static_cast<size_t>(n)];
    x = x + attention(layer, x, cos, sin, allowed);
    const at::Tensor h = rms_norm(x, layer.post_attention_layernorm, config_.rms_norm_eps);
    x = x + layer.down_proj(silu_float32(layer.gate_proj(h)) * layer.up_proj(h));
    keep(n + 1, n + 1 == config_.num_layers ? rms_norm(x, norm_, config_.rms_norm_eps) : x);
  }
  return outputs;
}

at::Tensor Qwen3TextEncoder::context(const at::Tensor& input_ids, const at::Tensor& attention_mask) const {
  return stack_on_channels(hidden_states(input_ids, attention_mask));
}

}  // namespace untwist
