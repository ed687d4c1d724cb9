// FLUX.2 DiT hyper-parameters, read off the weights' names and shapes.
#pragma once
#include <cstdint>
#include <optional>
#include <vector>

#include "model/flux1/flux_config.h"

namespace untwist {

class Weights;

struct Flux2Config {
  int64_t in_channels = 128;
  int64_t out_channels = 128;
  int64_t context_in_dim = 15360;
  int64_t hidden_size = 6144;
  int64_t mlp_hidden = 18432;  // the SwiGLU's inner width (its first linear is twice that)
  int64_t num_heads = 48;
  int64_t depth = 8;
  int64_t depth_single_blocks = 48;
  std::vector<int64_t> axes_dim = {32, 32, 32, 32};
  double theta = 2000;
  bool guidance_embed = true;  // dev; klein has none

  int64_t head_dim() const { return hidden_size / num_heads; }
};

// Whether the weights are a FLUX.2 transformer (its shared modulations).
bool is_flux2_transformer(const Weights& weights);

// Depth, widths, heads (from the qk-norm scale length) and the guidance
// embedding from the tensors; axes_dim/theta from the override, else the
// metadata key "params" (JSON), else FLUX.2's [32, 32, 32, 32] / 2000 when the
// head dim is 128, else a DataError asking for --axes-dim.
Flux2Config detect_flux2_config(const Weights& weights, const RopeOverride& rope = {});

}  // namespace untwist
