// Sampling the toy model: prompts to 32x32 images, plainly or as a
// style-aligned set (row 0 the reference).
#pragma once
#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "share/share_settings.h"
#include "share/shared_attention.h"
#include "toy/toy_model.h"

namespace untwist::toy {

constexpr int kDefaultSteps = 20;

struct ToyRequest {
  std::vector<std::string> prompts;
  std::vector<uint64_t> seeds;  // one per prompt
  int steps = kDefaultSteps;
  const ShareSettings* share = nullptr;
  SharedAttentionObserver* observer = nullptr;
};

// -> [B, 3, 32, 32] in [0, 1]
at::Tensor sample_toy(const ToyModel& model, const ToyRequest& request);

}  // namespace untwist::toy
