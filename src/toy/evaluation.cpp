#include "toy/evaluation.h"

#include <random>

#include "analysis/copy_meter.h"
#include "io/image_file.h"
#include "model/toy/pixel_latents.h"
#include "share/reference_positions.h"
#include "toy/metrics.h"

namespace untwist::toy {

namespace {

const PromptParts kContentOnly{true, false, false, false, true};  // a target's prompt: what and where

}  // namespace

std::vector<BenchmarkSet> benchmark(int sets, int targets_per_set, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<BenchmarkSet> benchmark;
  for (int s = 0; s < sets; ++s) {
    BenchmarkSet set;
    set.reference = random_scene(rng);
    for (int t = 0; t < targets_per_set; ++t) {
      Scene target = random_scene(rng);
      // The content must differ: another shape in another cell.
      while (target.shape == set.reference.shape || cell_of(target) == cell_of(set.reference)) {
        target = random_scene(rng);
      }
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
  set.reference = in_cell(set.reference, 0);  // top left
  // Each target in a cell the reference's square does not reach.
  const std::pair<Shape, int> targets[] = {
      {Shape::Circle, 8}, {Shape::Triangle, 2}, {Shape::Cross, 6}, {Shape::Ring, 7}};
  for (const auto& [shape, cell] : targets) {
    Scene target;
    target.shape = shape;
    set.targets.push_back(in_cell(target, cell));
  }
  set.seed = seed;
  return set;
}

ToyRequest set_request(const BenchmarkSet& set, int steps, const ShareSettings* share,
                       const std::vector<std::string>& vocabulary) {
  ToyRequest request;
  request.prompts.push_back(prompt_for(set.reference, named_in(vocabulary, {})));
  request.seeds.push_back(set.seed);
  for (size_t i = 0; i < set.targets.size(); ++i) {
    request.prompts.push_back(prompt_for(set.targets[i], named_in(vocabulary, kContentOnly)));
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

Scores score_set(const at::Tensor& images, const std::vector<Shape>& target_shapes, int64_t reference,
                 int64_t first_target) {
  const at::Tensor reference_mask = foreground_mask(images[reference]);
  const StyleStats reference_style = style_stats(images[reference]);
  Scores scores;
  for (size_t i = 0; i < target_shapes.size(); ++i) {
    const at::Tensor image = images[static_cast<int64_t>(i) + first_target];
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
    per_set.push_back(score_set(sample_toy(model, set_request(set, steps, share, model.text().vocabulary)), shapes));
  }
  return pooled(per_set);
}

TwoReferenceScores evaluate_two_references(const ToyModel& model, const std::vector<BenchmarkSet>& sets,
                                           const ShareSettings* share, int steps) {
  std::vector<Scores> first, second;
  for (size_t i = 0; i < sets.size(); ++i) {
    const BenchmarkSet& set = sets[i];
    const Scene& other = sets[(i + 1) % sets.size()].reference;
    ToyRequest request;
    const std::vector<std::string>& words = model.text().vocabulary;
    const PromptParts full = named_in(words, {}), content = named_in(words, kContentOnly);
    request.prompts = {prompt_for(set.reference, full), prompt_for(other, full)};
    request.seeds = {set.seed, sets[(i + 1) % sets.size()].seed};
    std::vector<Shape> shapes;
    for (const Scene& target : set.targets) {
      if (target.shape == other.shape || cell_of(target) == cell_of(other)) continue;  // content differs from both
      shapes.push_back(target.shape);
      request.prompts.push_back(prompt_for(target, content));
      request.seeds.push_back(set.seed + request.seeds.size() - 1);
    }
    if (shapes.empty()) continue;
    request.steps = steps;
    request.share = share;
    const at::Tensor images = sample_toy(model, request);
    first.push_back(score_set(images, shapes, 0, 2));
    second.push_back(score_set(images, shapes, 1, 2));
  }
  return {pooled(first), pooled(second)};
}

CopyReading meter_copying(const ToyModel& model, const std::vector<BenchmarkSet>& sets, const ShareSettings& share,
                         int steps, int64_t side) {
  const int64_t targets_side = model.dit->default_image_size() / kPixelPatch, tokens = side / kPixelPatch;
  const at::Tensor placed = reference_grid_positions({tokens, tokens}, {targets_side, targets_side},
                                                     ReferencePositions::Centre);
  CopyReading means;
  for (const BenchmarkSet& set : sets) {  // every set has as many readings: the mean of the sets' means
    ToyRequest request = set_request(set, steps, &share, model.text().vocabulary);
    request.reference_image = resize_and_crop(render(set.reference), side, side);
    CopyMeter meter(targets_side, targets_side, placed);
    request.observer = &meter;
    sample_toy(model, request);
    const CopyReading mean = meter.means();
    means.same_position += mean.same_position / static_cast<double>(sets.size());
    means.neighbourhood += mean.neighbourhood / static_cast<double>(sets.size());
    means.reference_total += mean.reference_total / static_cast<double>(sets.size());
  }
  return means;
}

}  // namespace untwist::toy
