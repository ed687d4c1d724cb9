// The toy checkpoint as the trainer makes it: the configuration, the initial
// weights and the metadata that make it load as a toy model (and like any
// FLUX model), for the world of world.h.
#pragma once
#include <ATen/ATen.h>

#include <map>
#include <string>

#include "io/weights.h"
#include "model/flux1/flux_config.h"
#include "model/toy/pixel_latents.h"
#include "model/toy/toy_model.h"
#include "toy/world.h"

namespace untwist::toy {

// The model's token grid side: 2x2 pixel patches of the kImageSize image.
constexpr int64_t kTokenSide = kImageSize / kPixelPatch;

// hidden 128, 4 heads of 32, 2 double + 4 single blocks, RoPE axes [4, 14, 14],
// 12 input channels (2x2 RGB), text width 64, no guidance embedding.
FluxConfig toy_config();

// Reproducible random initial weights, DiT and text embedding. The DiT starts
// as adaLN-Zero does: every modulation and the final projection are zero, so
// each block starts as the identity and the output as zero velocity.
TensorMap initial_weights(uint64_t seed);

// The metadata that makes a toy checkpoint load as one (kind, world) and like
// any FLUX model (params).
std::map<std::string, std::string> checkpoint_metadata(const std::string& note);

// Weights in the current toy_config() for the world's vocabulary and size (training).
ToyModel toy_from_tensors(const TensorMap& tensors);

}  // namespace untwist::toy
