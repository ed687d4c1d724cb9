// Sampling a batch from noise to clean image tokens with any diffusion
// transformer, plainly or as a style-aligned set (row 0 the reference, rows
// 1.. the targets).
#pragma once
#include <ATen/ATen.h>

#include <functional>
#include <vector>

#include "model/dit.h"
#include "share/reference_positions.h"
#include "share/share_settings.h"
#include "share/shared_attention.h"

namespace untwist {

// Classifier-free guidance as Z-Image's pipeline does it, for families whose
// guidance value is a guidance scale (classifier_free_guidance()): at each
// step where it applies, the batch runs again with the negative text (the
// model sees rows [conditional ; negative]) and each row's velocity becomes
// v_cond + scale * (v_cond - v_neg).
struct ClassifierFreeGuidance {
  double scale = 0;          // guidance applies when it is above 1
  double truncation = 1.0;   // no guidance at steps whose 1 - t (0 = noise) is above this
  double normalization = 0;  // > 0: each row's guided velocity is cut to at most this times its conditional norm
  at::Tensor txt;            // [B, L_neg, context] the negative text states
  at::Tensor txt_mask;       // [B, L_neg] its real tokens; undefined: all
  at::Tensor y;              // [B, D] the negative pooled vector, for models that take one
};

struct SamplingSetup {
  at::Tensor noise;  // [B, L_img, C] the state at t = 1
  // Everything else the model takes (img_ids, txt, txt_ids, y, guidance,
  // cond); img and timesteps are set at each step.
  DitInputs conditioning;
  std::vector<double> times;  // from 1 down to 0
  ClassifierFreeGuidance guidance;
  // Null: every row samples on its own. Otherwise the first rows are the
  // references (one per share->reference_weights, at least one) and, under
  // classifier-free guidance, the negative rows share with the references'
  // negative copies.
  const ShareSettings* share = nullptr;
  // Image references, entry r for batch row r: the states [T + 1, L_img, C]
  // row r takes at each of `times`, the last its clean latent (noised_path,
  // or an inversion's trajectory), or undefined where that reference is
  // generated from its prompt. Before each model call such a row is set to
  // its state at that time; it ends as the clean latent (zero on a grid of
  // its own, see reference_ids).
  std::vector<at::Tensor> reference_paths;
  // Entry r, where defined: reference r is an image on a token grid of its
  // own (another size or aspect ratio than the targets'), these its position
  // ids [L_r, A] (place_reference_ids), and its path [T + 1, L_r, C]. Then the
  // references are sampled apart from the targets: each step runs every
  // reference in a model call of its own, then the targets, who attend to the
  // tokens the references left (SharedAttention's ReferenceBank). Batch row r
  // of such a reference only keeps its place (its text is the reference's
  // caption); it comes back zero.
  std::vector<at::Tensor> reference_ids;
  SharedAttentionObserver* observer = nullptr;
  std::function<void(int step)> on_step;  // after each step, e.g. progress
  // When set, each step's model call shows the probe `probe(step)` its named
  // intermediates (e.g. to dump them); with references apart from the
  // targets, the targets' call (its rows the targets alone).
  std::function<StageProbe(int step)> probe;
};

// The ids [L_ref, A] of a reference on a `reference` token grid of its own,
// placed on the targets' grid (SamplingSetup::reference_ids).
at::Tensor reference_grid_ids(const DiffusionTransformer& model, TokenGrid reference, TokenGrid targets,
                              ReferencePositions positions);

// An image reference noised along the schedule: (1 - t) latent + t noise at
// every time of `times`. latent, noise: [L_img, C] -> [T + 1, L_img, C].
at::Tensor noised_path(const at::Tensor& latent, const at::Tensor& noise, const std::vector<double>& times);

// A DataError unless `velocity` (the model's output for `inputs`) is finite,
// saying where NaN/Inf first appeared: the sampling step (steps = 0: not
// sampling), the model stage, the batch row, and a weight holding NaN/Inf.
void require_finite_velocity(const at::Tensor& velocity, const DiffusionTransformer& model, const DitInputs& inputs,
                             const at::Tensor& pe, const AttentionHook* hook, int step, int steps);

// The share settings with their blocks bound to the model's groups
// (UsageError naming a group or block the model does not have).
ShareSettings bind_to(const ShareSettings& settings, const DiffusionTransformer& model);

// The attention hook of one model call of a style-aligned batch whose rows
// share in groups of `group_rows` (0: the whole batch is one group), its
// references where `source` says. img_ids: the targets' (their grid);
// reference_ids: the ids of references on grids of their own, where
// alignedgen must move them past the targets' columns.
SharedAttention shared_attention_for(const ShareSettings& bound, const DiffusionTransformer& model,
                                     const at::Tensor& img_ids, int step, int steps,
                                     SharedAttentionObserver* observer = nullptr, int64_t group_rows = 0,
                                     ReferenceSource source = {}, const at::Tensor& reference_ids = {});

// -> [B, L_img, C] float32; stops with require_finite_velocity's error.
at::Tensor sample_dit(const DiffusionTransformer& model, const SamplingSetup& setup);

}  // namespace untwist
