// The fixed toy benchmark: references that name their style, targets that
// name only their content, generated together with shared attention, and
// measured for copying (mask IoU with the reference), content (the target's
// shape is the one asked for) and style (distance to the reference's style).
#pragma once
#include <string>
#include <vector>

#include "share/share_settings.h"
#include "toy/toy_model.h"
#include "toy/world.h"

namespace untwist::toy {

struct BenchmarkSet {
  Scene reference;              // prompt: all attributes
  std::vector<Scene> targets;   // prompts: the shape only
  uint64_t seed = 0;            // reference seed; target i uses seed + 1 + i
};

// `sets` references x `targets_per_set` targets, fixed by `seed`.
std::vector<BenchmarkSet> benchmark(int sets, int targets_per_set, uint64_t seed = 2026);

struct Scores {
  double copy_iou = 0, shape_accuracy = 0, style_distance = 0;
  int pairs = 0;
};

// share = nullptr or mode none: targets sampled on their own with the same seeds.
Scores evaluate(const ToyModel& model, const std::vector<BenchmarkSet>& sets, const ShareSettings* share, int steps);

}  // namespace untwist::toy
