#include "model/text_encoders_random.h"

#include <ATen/CPUGeneratorImpl.h>

namespace untwist {

NamedTensors random_t5_weights(const T5Config& c, uint64_t seed) {
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  const auto matrix = [&](int64_t rows, int64_t columns) { return at::normal(0.0, 0.1, {rows, columns}, generator); };
  const int64_t inner = c.num_heads * c.d_kv;
  NamedTensors t = {{"shared.weight", at::normal(0.0, 1.0, {c.vocab_size, c.d_model}, generator)},
                    {"encoder.final_layer_norm.weight", at::ones({c.d_model})},
                    {"encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
                     at::normal(0.0, 1.0, {c.num_buckets, c.num_heads}, generator)}};
  for (int64_t n = 0; n < c.num_layers; ++n) {
    const std::string p = "encoder.block." + std::to_string(n) + ".layer.";
    for (const char* m : {"q", "k", "v"}) t.emplace_back(p + "0.SelfAttention." + m + ".weight", matrix(inner, c.d_model));
    t.emplace_back(p + "0.SelfAttention.o.weight", matrix(c.d_model, inner));
    t.emplace_back(p + "0.layer_norm.weight", at::ones({c.d_model}));
    t.emplace_back(p + "1.layer_norm.weight", at::ones({c.d_model}));
    t.emplace_back(p + "1.DenseReluDense.wi_0.weight", matrix(c.d_ff, c.d_model));
    t.emplace_back(p + "1.DenseReluDense.wi_1.weight", matrix(c.d_ff, c.d_model));
    t.emplace_back(p + "1.DenseReluDense.wo.weight", matrix(c.d_model, c.d_ff));
  }
  return t;
}

NamedTensors random_clip_weights(const ClipTextConfig& c, uint64_t seed) {
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  const auto matrix = [&](int64_t rows, int64_t columns) { return at::normal(0.0, 0.1, {rows, columns}, generator); };
  const std::string p = "text_model.";
  NamedTensors t = {{p + "embeddings.token_embedding.weight", matrix(c.vocab_size, c.width)},
                    {p + "embeddings.position_embedding.weight", matrix(c.max_positions, c.width)},
                    {p + "final_layer_norm.weight", at::ones({c.width})},
                    {p + "final_layer_norm.bias", at::zeros({c.width})}};
  for (int64_t n = 0; n < c.num_layers; ++n) {
    const std::string l = p + "encoder.layers." + std::to_string(n) + ".";
    for (const char* m : {"q_proj", "k_proj", "v_proj", "out_proj"}) {
      t.emplace_back(l + "self_attn." + m + ".weight", matrix(c.width, c.width));
      t.emplace_back(l + "self_attn." + m + ".bias", at::zeros({c.width}));
    }
    for (const char* norm : {"layer_norm1", "layer_norm2"}) {
      t.emplace_back(l + norm + ".weight", at::ones({c.width}));
      t.emplace_back(l + norm + ".bias", at::zeros({c.width}));
    }
    t.emplace_back(l + "mlp.fc1.weight", matrix(c.intermediate, c.width));
    t.emplace_back(l + "mlp.fc1.bias", at::zeros({c.intermediate}));
    t.emplace_back(l + "mlp.fc2.weight", matrix(c.width, c.intermediate));
    t.emplace_back(l + "mlp.fc2.bias", at::zeros({c.width}));
  }
  return t;
}

NamedTensors random_qwen3_weights(const Qwen3Config& c, uint64_t seed) {
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  const auto matrix = [&](int64_t rows, int64_t columns) { return at::normal(0.0, 0.1, {rows, columns}, generator); };
  const int64_t q = c.num_heads * c.head_dim, kv = c.num_kv_heads * c.head_dim;
  NamedTensors t = {{"model.embed_tokens.weight", at::normal(0.0, 1.0, {c.vocab_size, c.hidden_size}, generator)},
                    {"model.norm.weight", at::ones({c.hidden_size})}};
  for (int64_t n = 0; n < c.num_layers; ++n) {
    const std::string l = "model.layers." + std::to_string(n) + ".";
    t.emplace_back(l + "input_layernorm.weight", at::ones({c.hidden_size}));
    t.emplace_back(l + "post_attention_layernorm.weight", at::ones({c.hidden_size}));
    t.emplace_back(l + "self_attn.q_proj.weight", matrix(q, c.hidden_size));
    t.emplace_back(l + "self_attn.k_proj.weight", matrix(kv, c.hidden_size));
    t.emplace_back(l + "self_attn.v_proj.weight", matrix(kv, c.hidden_size));
    t.emplace_back(l + "self_attn.o_proj.weight", matrix(c.hidden_size, q));
    t.emplace_back(l + "self_attn.q_norm.weight", at::ones({c.head_dim}));
    t.emplace_back(l + "self_attn.k_norm.weight", at::ones({c.head_dim}));
    t.emplace_back(l + "mlp.gate_proj.weight", matrix(c.intermediate_size, c.hidden_size));
    t.emplace_back(l + "mlp.up_proj.weight", matrix(c.intermediate_size, c.hidden_size));
    t.emplace_back(l + "mlp.down_proj.weight", matrix(c.hidden_size, c.intermediate_size));
  }
  return t;
}

}  // namespace untwist
