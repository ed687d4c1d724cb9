#include "toy/evaluation.h"

#include <random>

#include "toy/metrics.h"
#include "toy/toy_sampler.h"

namespace untwist::toy {

std::vector<BenchmarkSet> benchmark(int sets, int targets_per_set, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<BenchmarkSet> benchmark;
  for (int s = 0; s < sets; ++s) {
    BenchmarkSet set;
    set.reference = random_scene(rng);
    for (int t = 0; t < targets_per_set; ++t) {
      Scene target = random_scene(rng);
      while (target.shape == set.reference.shape) target = random_scene(rng);  // content must differ
      set.targets.push_back(target);
    }
    set.seed = seed * 1000 + static_cast<uint64_t>(s) * 100;
    benchmark.push_back(set);
  }
  return benchmark;
}

Scores evaluate(const ToyModel& model, const std::vector<BenchmarkSet>& sets, const ShareSettings* share, int steps) {
  Scores scores;
  const PromptParts content_only{true, false, false, false};
  for (const BenchmarkSet& set : sets) {
    ToyRequest request;
    request.prompts.push_back(prompt_for(set.reference));
    request.seeds.push_back(set.seed);
    for (size_t i = 0; i < set.targets.size(); ++i) {
      request.prompts.push_back(prompt_for(set.targets[i], content_only));
      request.seeds.push_back(set.seed + 1 + i);
    }
    request.steps = steps;
    request.share = share;
    const at::Tensor images = sample_toy(model, request);  // [1 + N, 3, 32, 32]
    const at::Tensor reference_mask = foreground_mask(images[0]);
    const StyleStats reference_style = style_stats(images[0]);
    for (size_t i = 0; i < set.targets.size(); ++i) {
      const at::Tensor image = images[static_cast<int64_t>(i) + 1];
      const at::Tensor mask = foreground_mask(image);
      scores.copy_iou += mask_iou(mask, reference_mask);
      scores.shape_accuracy += classify_shape(mask).shape == set.targets[i].shape ? 1.0 : 0.0;
      scores.style_distance += style_distance(style_stats(image), reference_style);
      ++scores.pairs;
    }
  }
  if (scores.pairs > 0) {
    scores.copy_iou /= scores.pairs;
    scores.shape_accuracy /= scores.pairs;
    scores.style_distance /= scores.pairs;
  }
  return scores;
}

}  // namespace untwist::toy
