// Sampling the toy model: prompts to images of its training size (32x32),
// plainly or as a style-aligned set (row 0 the reference). The same noise,
// text states and schedule as `untwist generate --model toy.safetensors`.
#pragma once
#include <ATen/ATen.h>

#include <functional>
#include <string>
#include <vector>

#include "model/toy/toy_model.h"
#include "share/share_settings.h"
#include "share/shared_attention.h"

namespace untwist::toy {

struct ToyRequest {
  std::vector<std::string> prompts;
  std::vector<uint64_t> seeds;  // one per prompt
  int steps = kDefaultSteps;
  const ShareSettings* share = nullptr;
  SharedAttentionObserver* observer = nullptr;
  // [3, S, S] in [0, 1], S the training size: row 0 follows this image instead of its prompt
  at::Tensor reference_image;
  std::function<void(int step)> on_step;  // after each step, e.g. progress
};

// -> [B, 3, S, S] in [0, 1]
at::Tensor sample_toy(const ToyModel& model, const ToyRequest& request);

}  // namespace untwist::toy
