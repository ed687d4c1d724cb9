// Sampling the toy model: prompts to 32x32 images, plainly or as a
// style-aligned set (row 0 the reference).
#pragma once
#include <ATen/ATen.h>

#include <functional>
#include <string>
#include <vector>

#include "share/share_settings.h"
#include "share/shared_attention.h"
#include "toy/toy_model.h"

namespace untwist::toy {

constexpr int kDefaultSteps = 20;
// Blocks shared by default on the toy model: all of its 2 double and 4 single
// blocks. FLUX.1's default (its 38 single-stream blocks) leaves too little of
// so small a model shared to show the effect.
constexpr const char* kDefaultSharedBlocks = "all";

struct ToyRequest {
  std::vector<std::string> prompts;
  std::vector<uint64_t> seeds;  // one per prompt
  int steps = kDefaultSteps;
  const ShareSettings* share = nullptr;
  SharedAttentionObserver* observer = nullptr;
  at::Tensor reference_image;  // [3, 32, 32] in [0, 1]: row 0 follows this image instead of its prompt
  std::function<void(int step)> on_step;  // after each step, e.g. progress
};

// -> [B, 3, 32, 32] in [0, 1]
at::Tensor sample_toy(const ToyModel& model, const ToyRequest& request);

}  // namespace untwist::toy
