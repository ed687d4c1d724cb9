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
#include "model/dit.h"
#include "model/dit_layers.h"
#include "model/flux1/flux_config.h"
#include "model/linear.h"

namespace untwist {

class Weights;

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

class FluxModel : public StagedTransformer {
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

  std::string family() const override { return "flux1"; }
  std::string variant() const override { return config_.guidance_embed ? "dev" : "schnell"; }
  const RopeLayout& rope() const override { return rope_; }
  // "double" then "single"; the method shares the single-stream blocks by default.
  std::vector<BlockGroup> block_groups() const override;
  std::string default_shared_blocks() const override { return "single"; }
  bool guidance_embedded() const override { return config_.guidance_embed; }
  // dev: 28 steps, guidance 3.5; schnell: 4 steps.
  int default_steps() const override { return config_.guidance_embed ? 28 : 4; }
  double default_guidance() const override { return 3.5; }
  int64_t in_channels() const override { return config_.in_channels; }
  at::ScalarType compute_dtype() const override { return dtype_; }
  at::Device device() const override { return device_; }
  // (0, row, col) for image tokens, zeros for text.
  at::Tensor image_ids(int64_t batch, int64_t h, int64_t w) const override;
  at::Tensor text_ids(int64_t batch, int64_t length) const override;
  // FLUX.1's get_schedule: shifted by default for guidance-embedded models (dev), not for schnell.
  std::vector<double> schedule(int num_steps, int64_t image_tokens, std::optional<bool> shift) const override;
  // Text first: rope(cat(txt_ids, img_ids)).
  at::Tensor position_table(const DitInputs& inputs) const override;

 private:
  at::Tensor run_stages(const DitInputs& inputs, const at::Tensor& pe, const AttentionHook* hook,
                        const StageProbe* probe) const override;
  void check_inputs(const DitInputs& inputs, const at::Tensor& pe) const;
  std::pair<at::Tensor, at::Tensor> double_block(const DoubleStreamBlock& block, int index, at::Tensor img,
                                                 at::Tensor txt, const at::Tensor& vec, const at::Tensor& pe,
                                                 const std::vector<ImageSpan>& image,
                                                 const AttentionHook* hook) const;
  at::Tensor single_block(const SingleStreamBlock& block, int index, at::Tensor x, const at::Tensor& vec,
                          const at::Tensor& pe, const std::vector<ImageSpan>& image,
                          const AttentionHook* hook) const;

  FluxConfig config_;
  RopeLayout rope_;
  at::ScalarType dtype_;
  at::Device device_;
  Linear img_in, txt_in;
  MLPEmbedder time_in, vector_in, guidance_in;
  std::vector<DoubleStreamBlock> double_blocks;
  std::vector<SingleStreamBlock> single_blocks;
  Linear final_layer_adaLN_modulation_1, final_layer_linear;
};

}  // namespace untwist
