// Sampling the toy model: prompts to images of its training size (32x32),
// plainly or as a style-aligned set (the first rows the references, one per
// share->reference_weights). The same noise,
// text states and schedule as `untwist generate --model toy.safetensors`.
#pragma once
#include <ATen/ATen.h>

#include <functional>
#include <string>
#include <vector>

#include "model/dit.h"
#include "model/toy/toy_model.h"
#include "share/share_settings.h"
#include "share/shared_attention.h"

namespace untwist::toy {

struct ToyRequest {
  std::vector<std::string> prompts;
  std::vector<uint64_t> seeds;  // one per prompt
  int steps = kDefaultSteps;
  // Classifier-free guidance against the empty prompt (which training
  // teaches): v + guidance (v - v_empty), applied above 1 (as for Z-Image).
  double guidance = 0;
  const ShareSettings* share = nullptr;
  SharedAttentionObserver* observer = nullptr;
  // [3, H, W] in [0, 1], sides even: row 0 follows this image instead of its
  // prompt; an image of another size than the training size keeps a token
  // grid of its own, centred on the targets'.
  at::Tensor reference_image;
  // [T + 1, L, 12]: the path row 0 follows instead of reference_image noised
  // along the schedule (its inversion's; see toy_inputs and times_for)
  at::Tensor reference_path;
  std::function<void(int step)> on_step;  // after each step, e.g. progress
};

// Everything the model takes for `prompts` on the training size's grid but
// img and timesteps; the sampling times of `steps`.
DitInputs toy_inputs(const ToyModel& model, const std::vector<std::string>& prompts);
std::vector<double> times_for(const ToyModel& model, int steps);

// -> [B, 3, S, S] in [0, 1]; a reference image of its own size is shown
// resized and centre-cropped to S x S.
at::Tensor sample_toy(const ToyModel& model, const ToyRequest& request);

}  // namespace untwist::toy
