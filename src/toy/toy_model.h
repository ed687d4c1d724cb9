// The toy model: the project's own FLUX DiT in a tiny configuration, working
// on 32x32 RGB images packed 2x2 straight from pixels (no autoencoder), with
// the toy text embedding. Saved as an ordinary FLUX checkpoint (reference
// names, "params" metadata) plus the tensors "toy_text.embedding" and
// "toy_text.previous".
#pragma once
#include <ATen/ATen.h>

#include <map>
#include <memory>
#include <string>

#include "io/weights.h"
#include "model/flux1/flux.h"
#include "toy/toy_text.h"
#include "toy/world.h"

namespace untwist::toy {

// The model's token grid side: 2x2 pixel patches of the kImageSize image.
constexpr int64_t kTokenSide = kImageSize / 2;
constexpr const char* kTextEmbedding = "toy_text.embedding";
constexpr const char* kTextPrevious = "toy_text.previous";

// hidden 128, 4 heads of 32, 2 double + 4 single blocks, RoPE axes [4, 14, 14],
// 12 input channels (2x2 RGB), text width 64, no guidance embedding.
FluxConfig toy_config();

// Reproducible random initial weights, DiT and text embedding. The DiT starts
// as adaLN-Zero does: every modulation and the final projection are zero, so
// each block starts as the identity and the output as zero velocity.
TensorMap initial_weights(uint64_t seed);

// The metadata that makes a toy checkpoint load like any FLUX model.
std::map<std::string, std::string> checkpoint_metadata(const std::string& note);

struct ToyModel {
  std::unique_ptr<FluxModel> dit;
  TextEmbedding text;  // [vocabulary, 64] each
};
// The configuration a checkpoint was trained with: sizes from its tensors,
// RoPE axes and theta from its metadata.
ToyModel load_toy(const std::string& path);
// Weights in the current toy_config() (training).
ToyModel toy_from_tensors(const TensorMap& tensors);

// The rotary table for `batch` toy images with their prompts (text tokens at
// position zero, as FLUX places them).
at::Tensor toy_position_table(const ToyModel& model, int64_t batch);

// One DiT call: the velocity [B, 256, 12] at packed images `xt` [B, 256, 12],
// times `t` [B], for the word ids [B, kMaxWords], with `pe` from
// toy_position_table.
at::Tensor predict_velocity(const ToyModel& model, const at::Tensor& xt, const at::Tensor& ids, const at::Tensor& t,
                            const at::Tensor& pe);

// [B, 3, 32, 32] in [0, 1] <-> [B, 256, 12] in [-1, 1]
at::Tensor pack_pixels(const at::Tensor& images);
at::Tensor unpack_pixels(const at::Tensor& packed);

}  // namespace untwist::toy
