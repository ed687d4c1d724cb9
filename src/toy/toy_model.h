// The toy model: the project's own FLUX DiT in a tiny configuration, working
// on 32x32 RGB images packed 2x2 straight from pixels (no autoencoder), with
// the toy text embedding. Saved as an ordinary FLUX checkpoint (reference
// names, "params" metadata) plus the tensor "toy_text.embedding".
#pragma once
#include <ATen/ATen.h>

#include <map>
#include <memory>
#include <string>

#include "io/weights.h"
#include "model/flux.h"

namespace untwist::toy {

constexpr const char* kTextEmbedding = "toy_text.embedding";

// hidden 128, 4 heads of 32, 2 double + 4 single blocks, RoPE axes [4, 14, 14],
// 12 input channels (2x2 RGB), text width 64, no guidance embedding.
FluxConfig toy_config();

// Reproducible random initial weights, DiT and text embedding.
TensorMap initial_weights(uint64_t seed);

// The metadata that makes a toy checkpoint load like any FLUX model.
std::map<std::string, std::string> checkpoint_metadata(const std::string& note);

struct ToyModel {
  std::unique_ptr<FluxModel> dit;
  at::Tensor text_embedding;  // [vocabulary, 64]
};
ToyModel load_toy(const std::string& path);
ToyModel toy_from_tensors(const TensorMap& tensors);

// [B, 3, 32, 32] in [0, 1] <-> [B, 256, 12] in [-1, 1]
at::Tensor pack_pixels(const at::Tensor& images);
at::Tensor unpack_pixels(const at::Tensor& packed);

}  // namespace untwist::toy
