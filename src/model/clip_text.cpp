#include "model/clip_text.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "io/weights.h"
#include "model/attention.h"
#include "util/errors.h"

namespace untwist {

namespace {

const std::string kPrefix = "text_model.";

}  // namespace

ClipTextConfig detect_clip_text_config(const Weights& weights) {
  const std::string token_name = kPrefix + "embeddings.token_embedding.weight";
  if (!weights.has(token_name)) fail_file(weights.source(), "not a CLIP text model: tensor '" + token_name + "' is missing");
  ClipTextConfig config;
  const at::Tensor tokens = weights.get(token_name);
  config.vocab_size = tokens.size(0);
  config.width = tokens.size(1);
  config.max_positions = weights.get(kPrefix + "embeddings.position_embedding.weight").size(0);
  config.num_layers = static_cast<int64_t>(weights.indices_under(kPrefix + "encoder.layers.").size());
  config.intermediate = weights.get(kPrefix + "encoder.layers.0.mlp.fc1.weight").size(0);
  config.num_heads = config.width / 64;
  const nlohmann::json meta = weights.metadata_config();
  if (meta.contains("num_attention_heads") && meta["num_attention_heads"].is_number_integer())
    config.num_heads = meta["num_attention_heads"].get<int64_t>();
  if (meta.contains("layer_norm_eps") && meta["layer_norm_eps"].is_number())
    config.layer_norm_eps = meta["layer_norm_eps"].get<double>();
  if (config.num_heads <= 0 || config.width % config.num_heads != 0) {
    fail_file(weights.source(), "CLIP width " + std::to_string(config.width) + " does not split into " +
                                    std::to_string(config.num_heads) + " heads");
  }
  return config;
}

ClipTextModel::ClipTextModel(const Weights& weights, ClipTextConfig config) : config_(std::move(config)) {
  const int64_t w = config_.width, inner = config_.intermediate;
  const auto get = [&](const std::string& name, std::vector<int64_t> shape) {
    return weights.get(kPrefix + name, shape).to(at::kFloat);
  };
  token_embedding = get("embeddings.token_embedding.weight", {config_.vocab_size, w});
  position_embedding = get("embeddings.position_embedding.weight", {config_.max_positions, w});
  for (int64_t n = 0; n < config_.num_layers; ++n) {
    const std::string p = "encoder.layers." + std::to_string(n) + ".";
    Layer l;
    l.ln1_w = get(p + "layer_norm1.weight", {w});
    l.ln1_b = get(p + "layer_norm1.bias", {w});
    l.q_w = get(p + "self_attn.q_proj.weight", {w, w});
    l.q_b = get(p + "self_attn.q_proj.bias", {w});
    l.k_w = get(p + "self_attn.k_proj.weight", {w, w});
    l.k_b = get(p + "self_attn.k_proj.bias", {w});
    l.v_w = get(p + "self_attn.v_proj.weight", {w, w});
    l.v_b = get(p + "self_attn.v_proj.bias", {w});
    l.out_w = get(p + "self_attn.out_proj.weight", {w, w});
    l.out_b = get(p + "self_attn.out_proj.bias", {w});
    l.ln2_w = get(p + "layer_norm2.weight", {w});
    l.ln2_b = get(p + "layer_norm2.bias", {w});
    l.fc1_w = get(p + "mlp.fc1.weight", {inner, w});
    l.fc1_b = get(p + "mlp.fc1.bias", {inner});
    l.fc2_w = get(p + "mlp.fc2.weight", {w, inner});
    l.fc2_b = get(p + "mlp.fc2.bias", {w});
    layers.push_back(std::move(l));
  }
  final_ln_w = get("final_layer_norm.weight", {w});
  final_ln_b = get("final_layer_norm.bias", {w});
}

ClipTextOutput ClipTextModel::forward(const at::Tensor& input_ids) const {
  if (input_ids.dim() != 2 || input_ids.size(1) > config_.max_positions || input_ids.size(1) == 0) {
    throw InputError("CLIP input_ids must be [B, L] with 1 <= L <= " + std::to_string(config_.max_positions) +
                     ", got " + shape_string(input_ids.sizes().vec()));
  }
  const at::Tensor ids = input_ids.to(at::kLong);
  if (ids.min().item<int64_t>() < 0 || ids.max().item<int64_t>() >= config_.vocab_size) {
    throw InputError("CLIP input_ids outside the vocabulary of " + std::to_string(config_.vocab_size));
  }
  const int64_t batch = ids.size(0), length = ids.size(1), heads = config_.num_heads, w = config_.width;
  const double eps = config_.layer_norm_eps;
  ClipTextOutput out;
  at::Tensor x = at::embedding(token_embedding, ids) + position_embedding.narrow(0, 0, length);  // [B, L, w]
  out.hidden_states.push_back(x);

  const at::Tensor causal =
      at::full({length, length}, -std::numeric_limits<float>::infinity()).triu(1);  // [L, L], 0 on and below the diagonal
  const double scale = 1.0 / std::sqrt(static_cast<double>(w / heads));
  auto split_heads = [&](const at::Tensor& t) { return t.reshape({batch, length, heads, -1}).transpose(1, 2); };
  for (const Layer& l : layers) {
    const at::Tensor h = at::layer_norm(x, {w}, l.ln1_w, l.ln1_b, eps);
    const at::Tensor q = split_heads(at::linear(h, l.q_w, l.q_b)), k = split_heads(at::linear(h, l.k_w, l.k_b));
    const at::Tensor v = split_heads(at::linear(h, l.v_w, l.v_b));
    const at::Tensor weights = at::softmax(at::matmul(q, k.transpose(-1, -2)) * scale + causal, -1);  // [B, H, L, L]
    x = x + at::linear(merge_heads(at::matmul(weights, v)), l.out_w, l.out_b);
    const at::Tensor f = at::linear(at::layer_norm(x, {w}, l.ln2_w, l.ln2_b, eps), l.fc1_w, l.fc1_b);
    x = x + at::linear(f * at::sigmoid(1.702 * f), l.fc2_w, l.fc2_b);  // quick GELU
    out.hidden_states.push_back(x);
  }
  out.last_hidden_state = at::layer_norm(x, {w}, final_ln_w, final_ln_b, eps);
  out.eos_position = ids.argmax(-1);  // the first occurrence of the largest id: the first end-of-text
  const at::Tensor at_eos = out.eos_position.reshape({batch, 1, 1}).expand({batch, 1, w});
  out.pooler_output = out.last_hidden_state.gather(1, at_eos).squeeze(1);  // [B, w]
  return out;
}

}  // namespace untwist
