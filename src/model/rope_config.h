// RoPE axes and theta of a checkpoint, which its tensors cannot tell: from the
// command line, else the file's metadata, else the family's defaults.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace untwist {

class Weights;

// What the command line says (--axes-dim, --theta), if anything.
struct RopeOverride {
  std::optional<std::vector<int64_t>> axes_dim;
  std::optional<double> theta;
};

struct RopeParams {
  std::vector<int64_t> axes_dim;
  double theta = 10000;
};

// axes_dim/theta from the override, else the metadata key "params" (JSON),
// else `defaults` when the head dim matches them, else a DataError asking
// for --axes-dim. Checks the axes sum to head_dim and are positive and even.
RopeParams detect_rope_params(const Weights& weights, const RopeOverride& rope, int64_t head_dim,
                              const RopeParams& defaults, const std::string& family);

// Size `dim` of the tensor `name`; a DataError when it has fewer dimensions.
int64_t dim_of(const Weights& weights, const std::string& name, int64_t dim);

}  // namespace untwist
