// The FLUX.2 diffusion transformer (dev, klein): FLUX.1's double- and
// single-stream layout with modulations shared by all blocks of a kind,
// SwiGLU MLPs, no biases, no pooled text vector, and 4 RoPE axes (t, h, w, l).
// In-context reference images are extra tokens after the image (t = 10, 20,
// ...) whose predictions are dropped. Members carry the checkpoint's names.
#pragma once
#include <ATen/ATen.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "io/stored_tensor.h"
#include "model/dit.h"
#include "model/dit_layers.h"
#include "model/flux2/flux2_config.h"
#include "model/linear.h"

namespace untwist {

class Weights;

namespace flux2 {

struct DoubleStreamBlock {
  SelfAttentionWeights img_attn, txt_attn;
  Linear img_mlp_0, img_mlp_2, txt_mlp_0, txt_mlp_2;  // SwiGLU: mlp_0 -> [gate, up]
};

struct SingleStreamBlock {
  Linear linear1, linear2;
  QKNorm norm;
};

}  // namespace flux2

class Flux2Model : public StagedTransformer {
 public:
  // As FluxModel: matrices stay as stored on the CPU and are converted layer
  // by layer; on another device every weight is converted once and held there.
  Flux2Model(const Weights& weights, Flux2Config config, at::ScalarType compute_dtype = at::kFloat,
             at::Device device = at::kCPU);

  const Flux2Config& config() const { return config_; }

  std::string family() const override { return "flux2"; }
  std::string variant() const override { return config_.guidance_embed ? "dev" : "klein"; }
  const RopeLayout& rope() const override { return rope_; }
  std::vector<BlockGroup> block_groups() const override;
  std::string default_shared_blocks() const override { return "single"; }
  bool guidance_embedded() const override { return config_.guidance_embed; }
  // dev: 50 steps, guidance 4; klein (distilled, no guidance): 4 steps.
  int default_steps() const override { return config_.guidance_embed ? 50 : 4; }
  double default_guidance() const override { return config_.guidance_embed ? 4.0 : 1.0; }
  int64_t in_channels() const override { return config_.in_channels; }
  at::ScalarType compute_dtype() const override { return dtype_; }
  at::Device device() const override { return device_; }
  // (0, row, col, 0) for the generated image, (0, 0, 0, l) for text.
  at::Tensor image_ids(int64_t batch, int64_t h, int64_t w) const override;
  at::Tensor text_ids(int64_t batch, int64_t length) const override;
  // (10 (index + 1), row, col, 0), as the reference numbers its reference images.
  at::Tensor in_context_ids(int64_t batch, int index, int64_t h, int64_t w) const override;
  // FLUX.2's get_schedule: the time shift with its empirical mu (no choice).
  std::vector<double> schedule(int num_steps, int64_t image_tokens, std::optional<bool> shift) const override;
  // Text first: rope(cat(txt_ids, img_ids, cond_ids)).
  at::Tensor position_table(const DitInputs& inputs) const override;

 private:
  at::Tensor run_stages(const DitInputs& inputs, const at::Tensor& pe, const AttentionHook* hook,
                        const StageProbe* probe) const override;
  void check_inputs(const DitInputs& inputs, const at::Tensor& pe) const;

  Flux2Config config_;
  RopeLayout rope_;
  at::ScalarType dtype_;
  at::Device device_;
  Linear img_in, txt_in;
  MLPEmbedder time_in, guidance_in;
  Linear double_stream_modulation_img, double_stream_modulation_txt, single_stream_modulation;  // *.lin
  std::vector<flux2::DoubleStreamBlock> double_blocks;
  std::vector<flux2::SingleStreamBlock> single_blocks;
  Linear final_layer_adaLN_modulation_1, final_layer_linear;
};

// FLUX.2's empirical mu for the time shift, from the image token count and the step count.
double flux2_empirical_mu(int64_t image_tokens, int num_steps);

}  // namespace untwist
