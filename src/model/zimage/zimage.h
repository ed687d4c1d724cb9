// The Z-Image diffusion transformer (Tongyi-MAI, "Turbo" and base): a noise
// refiner over the image tokens alone and a context refiner over the caption
// alone, then one single-stream stack over image tokens followed by caption
// tokens. Each part is padded to a multiple of 32 with a learned pad token;
// rows of different caption lengths are padded to the longest, and only that
// padding is masked. RoPE over (t, h, w): captions at (1..Lc, 0, 0) (Lc the
// padded caption length), the image at (Lc + 1, row, col), pads at 0.
// Timestep-modulated blocks with tanh gates and sandwich RMS norms, SwiGLU
// feed-forwards. Members carry the checkpoint's names.
//
// Time: the reference's model time is 1 - t (0 = noise) and its output is
// the negated velocity; forward takes the sampler's t and returns the
// velocity, so the rest of untwist sees the convention of every family.
#pragma once
#include <ATen/ATen.h>

#include <optional>
#include <string>
#include <vector>

#include "model/dit.h"
#include "model/dit_layers.h"
#include "model/linear.h"
#include "model/zimage/zimage_config.h"

namespace untwist {

class Weights;

namespace zimage {

struct Attention {
  Linear to_q, to_k, to_v, to_out_0;
  at::Tensor norm_q, norm_k;  // [head_dim]; undefined without qk-norm
};

struct TransformerBlock {
  Attention attention;
  at::Tensor attention_norm1, attention_norm2, ffn_norm1, ffn_norm2;  // [dim]
  Linear feed_forward_w1, feed_forward_w2, feed_forward_w3;
  Linear adaLN_modulation_0;  // [4 dim, adaln_dim]; absent in the context refiner
};

// Where the parts of one batch's joint sequence lie: the image tokens (same
// number in every row) padded to image_padded, then each row's caption of
// caption[b] tokens padded to caption_padded[b], then nothing (masked) up to
// the longest row.
struct JointLayout {
  int64_t image = 0, image_padded = 0;
  std::vector<int64_t> caption, caption_padded;
  int64_t caption_max = 0;  // the largest caption_padded

  int64_t length() const { return image_padded + caption_max; }
};

}  // namespace zimage

class ZImageModel : public StagedTransformer {
 public:
  // As the FLUX families: matrices stay as stored on the CPU and are converted
  // layer by layer; on another device every weight is converted once there.
  ZImageModel(const Weights& weights, ZImageConfig config, at::ScalarType compute_dtype = at::kFloat,
              at::Device device = at::kCPU);

  const ZImageConfig& config() const { return config_; }

  std::string family() const override { return "zimage"; }
  std::string variant() const override { return "turbo"; }
  const RopeLayout& rope() const override { return rope_; }
  // refiner (the noise refiner, image tokens only) and layers; the context
  // refiner has no image tokens and never goes through the hook.
  std::vector<BlockGroup> block_groups() const override;
  std::string default_shared_blocks() const override { return "layers"; }
  bool guidance_embedded() const override { return false; }
  bool classifier_free_guidance() const override { return true; }
  // Turbo: 8 steps without guidance (the base model wants --steps and --guidance).
  int default_steps() const override { return 8; }
  double default_guidance() const override { return 0.0; }
  // Channels of one image token (patch * patch * latent channels).
  int64_t in_channels() const override { return config_.token_channels(); }
  at::ScalarType compute_dtype() const override { return dtype_; }
  at::Device device() const override { return device_; }
  // (0, row, col): the index coordinate is counted from the end of the row's
  // padded caption, which position_table adds.
  at::Tensor image_ids(int64_t batch, int64_t h, int64_t w) const override;
  // (1..length, 0, 0); position_table places each row's caption from txt_mask.
  at::Tensor text_ids(int64_t batch, int64_t length) const override;
  // The reference's FlowMatchEulerDiscreteScheduler: static shift 3 (none
  // when `shift` is false), sigmas in float32, then 0.
  std::vector<double> schedule(int num_steps, int64_t image_tokens, std::optional<bool> shift) const override;
  // The joint sequence's table [B, 1, L, D/2, 2, 2], image tokens first.
  at::Tensor position_table(const DitInputs& inputs) const override;

  // The parts of the joint sequence for these inputs (InputError when the
  // caption mask is not a non-empty prefix of each row).
  zimage::JointLayout layout(const DitInputs& inputs) const;

 protected:
  at::Tensor run_stages(const DitInputs& inputs, const at::Tensor& pe, const AttentionHook* hook,
                        const StageProbe* probe) const override;

 private:
  void check_inputs(const DitInputs& inputs, const at::Tensor& pe, const zimage::JointLayout& layout) const;
  zimage::TransformerBlock load_block(const WeightLoader& load, const std::string& prefix, bool modulated) const;
  // One block over x [B, L, dim]; adaln undefined for the unmodulated blocks;
  // attention through `hook` when given, else plain.
  at::Tensor run_block(const zimage::TransformerBlock& block, const at::Tensor& x, const at::Tensor& adaln,
                       const AttentionCall& call, const AttentionHook* hook) const;
  at::Tensor rms(const at::Tensor& x, const at::Tensor& weight) const;

  ZImageConfig config_;
  RopeLayout rope_;
  at::ScalarType dtype_;
  at::Device device_;
  Linear x_embedder, final_linear, final_adaLN_modulation_1;  // all_x_embedder.<key>, all_final_layer.<key>.*
  Linear t_embedder_mlp_0, t_embedder_mlp_2, cap_embedder_1;
  at::Tensor cap_embedder_0;             // [cap_feat_dim] RMS norm weight
  at::Tensor x_pad_token, cap_pad_token;  // [1, dim]
  std::vector<zimage::TransformerBlock> noise_refiner, context_refiner, layers;
};

}  // namespace untwist
