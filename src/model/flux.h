// The FLUX.1 diffusion transformer (MMDiT): double-stream blocks over separate
// text and image streams with joint attention, then single-stream blocks over
// the concatenated sequence. Members carry the checkpoint's key names.
#pragma once
#include <ATen/ATen.h>

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "io/stored_tensor.h"
#include "model/attention.h"
#include "model/flux_config.h"
#include "model/linear.h"

namespace untwist {

class Weights;

struct MLPEmbedder {
  Linear in_layer, out_layer;
};

struct QKNorm {
  at::Tensor query_norm_scale, key_norm_scale;  // [D]
};

struct SelfAttentionWeights {
  Linear qkv;
  QKNorm norm;
  Linear proj;
};

struct DoubleStreamBlock {
  Linear img_mod, txt_mod;  // *.lin
  SelfAttentionWeights img_attn, txt_attn;
  Linear img_mlp_0, img_mlp_2, txt_mlp_0, txt_mlp_2;
};

struct SingleStreamBlock {
  Linear linear1, linear2;
  QKNorm norm;
  Linear modulation;  // modulation.lin
};

struct FluxInputs {
  at::Tensor img;        // [B, L_img, in_channels] packed latents
  at::Tensor txt;        // [B, L_txt, context_in_dim] T5 states
  at::Tensor y;          // [B, vec_in_dim] pooled CLIP vector
  at::Tensor timesteps;  // [B] in [0, 1]
  at::Tensor guidance;   // [B]; used only by guidance-embedded models
};

// Where a forward pass first produced a value that is not finite.
struct NonFiniteSite {
  std::string stage;  // "the input embedding", "double block 3", "single block 0", "the final layer"
  int64_t row = 0;    // batch row
};

class FluxModel {
 public:
  // Takes the weights (checking every shape against the config) for the
  // compute dtype: float32 for exactness, bfloat16 for speed. Matrices stay
  // as stored and are converted layer by layer during the forward pass;
  // biases and norm scales (small) are converted here. On a device other than
  // the CPU every weight is converted once, here, and held there; inputs and
  // outputs stay on the caller's device.
  FluxModel(const Weights& weights, FluxConfig config, at::ScalarType compute_dtype = at::kFloat,
            at::Device device = at::kCPU);

  const FluxConfig& config() const { return config_; }
  at::ScalarType compute_dtype() const { return dtype_; }
  at::Device device() const { return device_; }

  // txt_ids: [B, L_txt, 3], img_ids: [B, L_img, 3] -> pe [B, 1, L_txt + L_img, D/2, 2, 2]
  at::Tensor position_table(const at::Tensor& txt_ids, const at::Tensor& img_ids) const;

  // -> velocity [B, L_img, out_channels] in float32. Every block's attention
  // goes through `hook` when one is given.
  at::Tensor forward(const FluxInputs& inputs, const at::Tensor& pe, const AttentionHook* hook = nullptr) const;

  // Runs the forward pass again, checking every stage's output: the first
  // stage and row that is not finite, or nothing when all are.
  std::optional<NonFiniteSite> locate_non_finite(const FluxInputs& inputs, const at::Tensor& pe,
                                                 const AttentionHook* hook = nullptr) const;
  // The checkpoint name of the first weight holding NaN or Inf; empty if none.
  std::string first_non_finite_weight() const;

 private:
  // (stage, its output stream [B, ...]) -> whether to go on
  using StageProbe = std::function<bool(const std::string& stage, const at::Tensor& stream)>;
  at::Tensor run_stages(const FluxInputs& inputs, const at::Tensor& pe, const AttentionHook* hook,
                        const StageProbe* probe) const;
  void check_inputs(const FluxInputs& inputs, const at::Tensor& pe) const;
  std::pair<at::Tensor, at::Tensor> double_block(const DoubleStreamBlock& block, int index, at::Tensor img,
                                                 at::Tensor txt, const at::Tensor& vec, const at::Tensor& pe,
                                                 const AttentionHook* hook) const;
  at::Tensor single_block(const SingleStreamBlock& block, int index, at::Tensor x, const at::Tensor& vec,
                          const at::Tensor& pe, int64_t txt_len, const AttentionHook* hook) const;

  FluxConfig config_;
  at::ScalarType dtype_;
  at::Device device_;
  Linear img_in, txt_in;
  MLPEmbedder time_in, vector_in, guidance_in;
  std::vector<DoubleStreamBlock> double_blocks;
  std::vector<SingleStreamBlock> single_blocks;
  Linear final_layer_adaLN_modulation_1, final_layer_linear;
  std::vector<std::pair<std::string, StoredTensor>> named_weights_;  // every tensor above, by checkpoint name
};

}  // namespace untwist
