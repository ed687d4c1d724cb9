// Sampling a FLUX batch from noise to clean packed latents, plainly or as a
// style-aligned set (row 0 the reference, rows 1.. the targets).
#pragma once
#include <ATen/ATen.h>

#include <functional>
#include <vector>

#include "model/flux.h"
#include "share/share_settings.h"
#include "share/shared_attention.h"

namespace untwist {

struct SamplingSetup {
  at::Tensor noise;    // [B, L_img, C] the state at t = 1
  at::Tensor img_ids;  // [B, L_img, 3]
  at::Tensor txt;      // [B, L_txt, context]
  at::Tensor txt_ids;  // [B, L_txt, 3]
  at::Tensor y;        // [B, vec]
  std::vector<double> times;  // from 1 down to 0
  double guidance = 3.5;
  // Null: every row samples on its own. Otherwise row 0 is the reference.
  const ShareSettings* share = nullptr;
  // [L_img, C] clean packed latent of an image reference: before each model
  // call row 0 is set to (1 - t) x_ref + t noise[0]; it ends as x_ref.
  at::Tensor reference_latent;
  SharedAttentionObserver* observer = nullptr;
  std::function<void(int step)> on_step;  // after each step, e.g. progress
};

// A DataError unless `velocity` (the model's output for `inputs`) is finite,
// saying where NaN/Inf first appeared: the sampling step (steps = 0: not
// sampling), the model stage, the batch row, and a weight holding NaN/Inf.
void require_finite_velocity(const at::Tensor& velocity, const FluxModel& model, const FluxInputs& inputs,
                             const at::Tensor& pe, const AttentionHook* hook, int step, int steps);

// -> [B, L_img, C] float32; stops with require_finite_velocity's error.
at::Tensor sample_flux(const FluxModel& model, const SamplingSetup& setup);

}  // namespace untwist
