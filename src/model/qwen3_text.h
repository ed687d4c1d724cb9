// The Qwen3 decoder run as a text encoder (as FLUX.2 [klein] and Z-Image use
// Qwen3): RMS norms in float32, per-head RMS norms on queries and keys before
// rotate-half RoPE, grouped-query causal attention with right padding masked
// as keys, SwiGLU MLPs. No language-model head: the outputs are hidden states.
// HuggingFace key names (model.layers.N.self_attn.q_proj.weight, ...), under
// whatever prefix the file puts in front of "embed_tokens.weight".
#pragma once
#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "io/stored_tensor.h"
#include "model/linear.h"

namespace untwist {

class Weights;

struct Qwen3Config {
  int64_t vocab_size = 151936;
  int64_t hidden_size = 2560;
  int64_t num_layers = 36;
  int64_t num_heads = 32;
  int64_t num_kv_heads = 8;
  int64_t head_dim = 128;
  int64_t intermediate_size = 9728;
  double rms_norm_eps = 1e-6;
  double rope_theta = 1e6;
};

// The hidden states FLUX.2 [klein] stacks into its text context.
inline const std::vector<int64_t> kFlux2KleinQwen3Layers{9, 18, 27};

// The prefix in front of the model's names: the part before the one
// "embed_tokens.weight" that has "layers.0.self_attn.q_norm.weight" beside it
// ("model." for HuggingFace files). DataError when there is none or several.
std::string qwen3_weight_prefix(const Weights& weights);

// Sizes from the weights (head_dim from q_norm); rms_norm_eps and rope_theta
// (or "rope_base") from the metadata "config"/"params" JSON when present.
Qwen3Config detect_qwen3_config(const Weights& weights);

// Hidden states [B, L, D] each -> [B, L, n*D], the first state's channels first.
at::Tensor stack_on_channels(const std::vector<at::Tensor>& hidden_states);

class Qwen3TextEncoder {
 public:
  // output_layers use HuggingFace's hidden_states numbering: 0 the token
  // embeddings, k the output of decoder layer k, num_layers the last one after
  // the final norm. Only the layers up to the highest one asked for are read
  // and run. UsageError for a layer outside 0..num_layers.
  Qwen3TextEncoder(const Weights& weights, Qwen3Config config, std::vector<int64_t> output_layers);
  const Qwen3Config& config() const { return config_; }
  const std::vector<int64_t>& output_layers() const { return output_layers_; }
  // Decoder layers read from the weights.
  int64_t built_layers() const { return static_cast<int64_t>(layers_.size()); }

  // input_ids [B, L] int64; attention_mask [B, L] (1 keep, 0 padding) is
  // optional. -> one [B, L, hidden_size] float32 tensor per output layer, in
  // the order given.
  std::vector<at::Tensor> hidden_states(const at::Tensor& input_ids, const at::Tensor& attention_mask = {}) const;
  // The output layers' hidden states stacked on channels: [B, L, n*hidden_size].
  at::Tensor context(const at::Tensor& input_ids, const at::Tensor& attention_mask = {}) const;

 private:
  // Matrices stay as the file stores them (mapped bfloat16, float8, GGUF
  // blocks) and are converted one layer at a time as the pass reaches them.
  struct Layer {
    at::Tensor input_layernorm, post_attention_layernorm;  // [hidden] float32
    at::Tensor q_norm, k_norm;                              // [head_dim] float32
    Linear q_proj, k_proj, v_proj;          // [heads*head_dim, hidden]; k, v: [kv_heads*head_dim, hidden]
    Linear o_proj;                          // [hidden, heads*head_dim]
    Linear gate_proj, up_proj, down_proj;   // [inter, hidden] x2; down: [hidden, inter]
  };
  at::Tensor attention(const Layer& layer, const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin,
                       const at::Tensor& allowed) const;

  Qwen3Config config_;
  std::vector<int64_t> output_layers_;
  StoredTensor embed_tokens_;  // [vocab, hidden], looked up as stored
  std::vector<Layer> layers_;
  at::Tensor norm_;  // [hidden] float32; only when the last state is asked for
};

}  // namespace untwist
