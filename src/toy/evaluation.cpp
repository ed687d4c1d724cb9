#include "toy/evaluation.h"

#include <random>

#include "toy/metrics.h"

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

BenchmarkSet demo_set(uint64_t seed) {
  BenchmarkSet set;
  set.reference.shape = Shape::Square;
  set.reference.foreground = 5;  // orange
  set.reference.background = 4;  // purple
  set.reference.texture = Texture::Checks;
  for (Shape shape : {Shape::Circle, Shape::Triangle, Shape::Cross, Shape::Ring}) {
    Scene target;
    target.shape = shape;
    set.targets.push_back(target);
  }
  set.seed = seed;
  return set;
}

ToyRequest set_request(const BenchmarkSet& set, int steps, const ShareSettings* share) {
  const PromptParts content_only{true, false, false, false};
  ToyRequest request;
  request.prompts.push_back(prompt_for(set.reference));
  request.seeds.push_back(set.seed);
  for (size_t i = 0; i < set.targets.size(); ++i) {
    request.prompts.push_back(prompt_for(set.targets[i], content_only));
    request.seeds.push_back(set.seed + 1 + i);
  }
  request.steps = steps;
  request.share = share;
  return request;
}

namespace {

// Sums over the pairs -> means.
Scores divided_by_pairs(Scores sums) {
  if (sums.pairs == 0) return sums;
  sums.copy_iou /= sums.pairs;
  sums.shape_accuracy /= sums.pairs;
  sums.style_distance /= sums.pairs;
  sums.object_rate /= sums.pairs;
  return sums;
}

}  // namespace

Scores score_set(const at::Tensor& images, const std::vector<Shape>& target_shapes) {
  const at::Tensor reference_mask = foreground_mask(images[0]);
  const StyleStats reference_style = style_stats(images[0]);
  Scores scores;
  for (size_t i = 0; i < target_shapes.size(); ++i) {
    const at::Tensor image = images[static_cast<int64_t>(i) + 1];
    const at::Tensor mask = foreground_mask(image);
    scores.copy_iou += mask_iou(mask, reference_mask);
    scores.shape_accuracy += shows_shape(mask, target_shapes[i]) ? 1.0 : 0.0;
    scores.style_distance += style_distance(style_stats(image), reference_style);
    scores.object_rate += has_object(mask) ? 1.0 : 0.0;
  }
  scores.pairs = static_cast<int>(target_shapes.size());
  return divided_by_pairs(scores);
}

Scores pooled(const std::vector<Scores>& sets) {
  Scores total;
  for (const Scores& s : sets) {
    total.copy_iou += s.copy_iou * s.pairs;
    total.shape_accuracy += s.shape_accuracy * s.pairs;
    total.style_distance += s.style_distance * s.pairs;
    total.object_rate += s.object_rate * s.pairs;
    total.pairs += s.pairs;
  }
  return divided_by_pairs(total);
}

Scores evaluate(const ToyModel& model, const std::vector<BenchmarkSet>& sets, const ShareSettings* share, int steps) {
  std::vector<Scores> per_set;
  for (const BenchmarkSet& set : sets) {
    std::vector<Shape> shapes;
    for (const Scene& target : set.targets) shapes.push_back(target.shape);
    per_set.push_back(score_set(sample_toy(model, set_request(set, steps, share)), shapes));
  }
  return pooled(per_set);
}

}  // namespace untwist::toy
