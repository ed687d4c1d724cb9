// The CLIP text transformer (as FLUX uses CLIP-L): learned positions, causal
// self-attention, quick-GELU MLPs, final layer norm; the pooled vector is the
// final state at the first end-of-text token (the largest id). No projection.
// HuggingFace key names (text_model.encoder.layers.N.self_attn.q_proj.weight, ...).
#pragma once
#include <ATen/ATen.h>

#include <vector>

namespace untwist {

class Weights;

struct ClipTextConfig {
  int64_t vocab_size = 49408;
  int64_t width = 768;
  int64_t num_heads = 12;
  int64_t intermediate = 3072;
  int64_t num_layers = 12;
  int64_t max_positions = 77;
  double layer_norm_eps = 1e-5;
};

// Sizes from the weights; heads from the metadata "config"/"params" JSON
// (num_attention_heads) when present, else width / 64 as in every released CLIP.
ClipTextConfig detect_clip_text_config(const Weights& weights);

struct ClipTextOutput {
  at::Tensor last_hidden_state;           // [B, L, width] after the final layer norm
  at::Tensor pooler_output;               // [B, width]
  at::Tensor eos_position;                // [B] int64
  std::vector<at::Tensor> hidden_states;  // embeddings, then each layer's output (HuggingFace's hidden_states)
};

class ClipTextModel {
 public:
  ClipTextModel(const Weights& weights, ClipTextConfig config);
  const ClipTextConfig& config() const { return config_; }
  // input_ids [B, L] int64, L <= max_positions
  ClipTextOutput forward(const at::Tensor& input_ids) const;

 private:
  struct Layer {
    at::Tensor ln1_w, ln1_b, q_w, q_b, k_w, k_b, v_w, v_b, out_w, out_b, ln2_w, ln2_b, fc1_w, fc1_b, fc2_w, fc2_b;
  };
  ClipTextConfig config_;
  at::Tensor token_embedding, position_embedding;
  std::vector<Layer> layers;
  at::Tensor final_ln_w, final_ln_b;
};

}  // namespace untwist
