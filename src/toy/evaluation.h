// The fixed toy benchmark: references that name their style, targets that
// name only their content (shape and cell, another of each than the
// reference's), generated together with shared attention, and
// measured for copying (mask IoU with the reference), content (the target's
// shape is the one asked for) and style (distance to the reference's style).
#pragma once
#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "analysis/copy_meter.h"
#include "model/toy/toy_model.h"
#include "share/share_settings.h"
#include "toy/toy_sampler.h"
#include "toy/world.h"

namespace untwist::toy {

struct BenchmarkSet {
  Scene reference;              // prompt: all attributes
  std::vector<Scene> targets;   // prompts: the shape and cell only
  uint64_t seed = 0;            // reference seed; target i uses seed + 1 + i
};

// `sets` references x `targets_per_set` targets, fixed by `seed`.
std::vector<BenchmarkSet> benchmark(int sets, int targets_per_set, uint64_t seed = 2026);

// The set `untwist demo` shows: the reference "checked orange square top left
// on purple" and targets asking for a circle bottom right, a triangle top
// right, a cross bottom left and a ring at the bottom.
constexpr uint64_t kDemoSeed = 7;
BenchmarkSet demo_set(uint64_t seed = kDemoSeed);

// The request that samples a set together: row 0 the reference with its full
// prompt, then each target with its shape and cell alone.
// Prompts name what `vocabulary` (the model's) has words for.
ToyRequest set_request(const BenchmarkSet& set, int steps, const ShareSettings* share,
                       const std::vector<std::string>& vocabulary);

// Means over target/reference pairs.
struct Scores {
  double copy_iou = 0, shape_accuracy = 0, style_distance = 0;
  double object_rate = 0;  // share of targets that drew an object at all (an empty target copies nothing)
  int pairs = 0;
};

// One generated set: images [R + N, 3, 32, 32], the targets from row
// `first_target` on (the one at first_target + i asked for target_shapes[i]),
// each scored against the reference in row `reference`.
Scores score_set(const at::Tensor& images, const std::vector<Shape>& target_shapes, int64_t reference = 0,
                 int64_t first_target = 1);

// The pair-weighted mean of several sets' scores.
Scores pooled(const std::vector<Scores>& sets);

// share = nullptr or mode none: targets sampled on their own with the same seeds.
Scores evaluate(const ToyModel& model, const std::vector<BenchmarkSet>& sets, const ShareSettings* share, int steps);

// The two-reference case: each set's reference and the next set's, both with
// their full prompts, weighted by share->reference_weights (two), and the
// set's targets whose shape and cell neither has, naming only those; every target
// scored against each reference. share = nullptr: the targets on their own.
struct TwoReferenceScores {
  Scores first, second;
};
TwoReferenceScores evaluate_two_references(const ToyModel& model, const std::vector<BenchmarkSet>& sets,
                                           const ShareSettings* share, int steps);

// Copying of image references of another size: each set's reference scene
// rendered and resampled to `side` x `side` pixels (32: the targets' size; 48:
// 1.5 times it, on a grid of its own, centred), its targets sampled with it;
// the copying meter's mean over the sets, steps and shared blocks.
CopyReading meter_copying(const ToyModel& model, const std::vector<BenchmarkSet>& sets, const ShareSettings& share,
                         int steps, int64_t side);

}  // namespace untwist::toy
