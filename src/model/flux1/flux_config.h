// FLUX DiT hyper-parameters, read off the weights' names and shapes.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "model/rope_config.h"

namespace untwist {

class Weights;

struct FluxConfig {
  int64_t in_channels = 64;
  int64_t out_channels = 64;
  int64_t vec_in_dim = 768;
  int64_t context_in_dim = 4096;
  int64_t hidden_size = 3072;
  int64_t mlp_hidden = 12288;
  int64_t num_heads = 24;
  int64_t depth = 19;
  int64_t depth_single_blocks = 38;
  std::vector<int64_t> axes_dim = {16, 56, 56};
  double theta = 10000;
  bool qkv_bias = true;
  bool guidance_embed = true;

  int64_t head_dim() const { return hidden_size / num_heads; }
};

// Depth, widths, heads (from the qk-norm scale length), guidance embedding and
// qkv bias from the tensors; axes_dim/theta from the override, else the
// metadata key "params" (JSON), else FLUX.1's [16, 56, 56] / 10000 when the
// head dim is 128, else a DataError asking for --axes-dim.
FluxConfig detect_flux_config(const Weights& weights, const RopeOverride& rope = {});

}  // namespace untwist
