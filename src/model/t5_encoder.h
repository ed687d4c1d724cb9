// The T5 v1.1 encoder (as FLUX uses T5-XXL): RMS norms, relative position
// buckets from block 0 shared by every block, unscaled attention, gated-GELU
// feed-forward. HuggingFace key names (encoder.block.N.layer.0.SelfAttention.q.weight, ...).
#pragma once
#include <ATen/ATen.h>

#include <vector>

#include "model/linear.h"

namespace untwist {

class Weights;

struct T5Config {
  int64_t vocab_size = 32128;
  int64_t d_model = 4096;
  int64_t d_kv = 64;
  int64_t num_heads = 64;
  int64_t d_ff = 10240;
  int64_t num_layers = 24;
  int64_t num_buckets = 32;
  int64_t max_distance = 128;
  double layer_norm_epsilon = 1e-6;
};

// Sizes from the weights; max_distance and epsilon from the metadata "config"
// or "params" JSON when present (else T5's 128 and 1e-6).
T5Config detect_t5_config(const Weights& weights);

// Bidirectional T5 bucket of key position minus query position, [q, k] -> [q, k] int64.
at::Tensor t5_relative_position_bucket(const at::Tensor& relative_position, int64_t num_buckets, int64_t max_distance);

class T5Encoder {
 public:
  T5Encoder(const Weights& weights, T5Config config);
  const T5Config& config() const { return config_; }

  // input_ids [B, L] int64 -> last_hidden_state [B, L, d_model] float32.
  // attention_mask [B, L] (1 keep, 0 masked) is optional: FLUX passes none,
  // so padding tokens are attended.
  at::Tensor forward(const at::Tensor& input_ids, const at::Tensor& attention_mask = {}) const;

 private:
  // The matrices stay as the file stores them (mapped, possibly bfloat16,
  // float16, float8 or quantised) and are converted to float32 one at a time
  // as the forward pass reaches them: T5-XXL needs its file's size, not 19 GB.
  struct Block {
    at::Tensor attention_norm, ff_norm;        // [d_model] float32
    Linear q, k, v, o;                         // [heads*d_kv, d_model]; o: [d_model, heads*d_kv]; no biases
    Linear wi_0, wi_1, wo;                     // [d_ff, d_model]; wo: [d_model, d_ff]
  };
  T5Config config_;
  at::Tensor embedding;            // [vocab, d_model]
  at::Tensor relative_bias;        // [num_buckets, heads]
  std::vector<Block> blocks;
  at::Tensor final_layer_norm;
};

}  // namespace untwist
