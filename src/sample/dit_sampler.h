// Sampling a batch from noise to clean image tokens with any diffusion
// transformer, plainly or as a style-aligned set (row 0 the reference, rows
// 1.. the targets).
#pragma once
#include <ATen/ATen.h>

#include <functional>
#include <vector>

#include "model/dit.h"
#include "share/share_settings.h"
#include "share/shared_attention.h"

namespace untwist {

struct SamplingSetup {
  at::Tensor noise;  // [B, L_img, C] the state at t = 1
  // Everything else the model takes (img_ids, txt, txt_ids, y, guidance,
  // cond); img and timesteps are set at each step.
  DitInputs conditioning;
  std::vector<double> times;  // from 1 down to 0
  // Null: every row samples on its own. Otherwise row 0 is the reference.
  const ShareSettings* share = nullptr;
  // [L_img, C] clean latent tokens of an image reference: before each model
  // call row 0 is set to (1 - t) x_ref + t noise[0]; it ends as x_ref.
  at::Tensor reference_latent;
  SharedAttentionObserver* observer = nullptr;
  std::function<void(int step)> on_step;  // after each step, e.g. progress
};

// A DataError unless `velocity` (the model's output for `inputs`) is finite,
// saying where NaN/Inf first appeared: the sampling step (steps = 0: not
// sampling), the model stage, the batch row, and a weight holding NaN/Inf.
void require_finite_velocity(const at::Tensor& velocity, const DiffusionTransformer& model, const DitInputs& inputs,
                             const at::Tensor& pe, const AttentionHook* hook, int step, int steps);

// The share settings with their blocks bound to the model's groups
// (UsageError naming a group or block the model does not have).
ShareSettings bind_to(const ShareSettings& settings, const DiffusionTransformer& model);

// The attention hook of one model call of a style-aligned batch.
SharedAttention shared_attention_for(const ShareSettings& bound, const DiffusionTransformer& model,
                                     const at::Tensor& img_ids, int step, int steps,
                                     SharedAttentionObserver* observer = nullptr);

// -> [B, L_img, C] float32; stops with require_finite_velocity's error.
at::Tensor sample_dit(const DiffusionTransformer& model, const SamplingSetup& setup);

}  // namespace untwist
