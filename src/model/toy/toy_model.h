// The toy family: the project's own FLUX DiT in a tiny configuration (see
// models/toy/README.md), working on RGB images packed 2x2 straight from pixels
// (pixel_latents.h, no autoencoder), with the toy text embedding
// (toy_text.h). A toy checkpoint is an ordinary FLUX checkpoint (reference
// names, "params" metadata) plus the tensors "toy_text.embedding" and
// "toy_text.previous" and the metadata "kind" ("untwist-toy") and "world"
// (the image size it was trained at and its vocabulary).
#pragma once
#include <ATen/ATen.h>

#include <memory>
#include <string>
#include <vector>

#include "io/weights.h"
#include "model/flux1/flux.h"
#include "model/rope_config.h"
#include "model/toy/toy_text.h"

namespace untwist::toy {

constexpr const char* kCheckpointKind = "untwist-toy";
constexpr const char* kTextEmbedding = "toy_text.embedding";
constexpr const char* kTextPrevious = "toy_text.previous";

// Euler steps a toy image takes by default.
constexpr int kDefaultSteps = 20;
// Blocks shared by default on the toy model: all of its 2 double and 4 single
// blocks. FLUX.1's default (its 38 single-stream blocks) leaves too little of
// so small a model shared to show the effect.
constexpr const char* kDefaultSharedBlocks = "all";

// Whether `weights` are a toy checkpoint: metadata kind "untwist-toy", or the
// toy text tensors.
bool is_toy_checkpoint(const Weights& weights);

// A FLUX.1 transformer that carries the checkpoint's text side and knows the
// size it was trained at: variant "toy", 20 unshifted steps, all blocks
// shared, its training image size by default.
class ToyTransformer : public FluxModel {
 public:
  ToyTransformer(const Weights& weights, FluxConfig config, ToyText text, int64_t image_size,
                 at::ScalarType compute_dtype = at::kFloat, at::Device device = at::kCPU);

  std::string variant() const override { return "toy"; }
  std::string default_shared_blocks() const override { return kDefaultSharedBlocks; }
  int default_steps() const override { return kDefaultSteps; }
  // No guidance embedding: the value is unused; 1 as the toy's own sampler passes it.
  double default_guidance() const override { return 1.0; }
  int64_t default_image_size() const override { return image_size_; }
  const ToyText& text() const { return text_; }

 private:
  ToyText text_;
  int64_t image_size_;
};

// A toy checkpoint's transformer, in the configuration it was trained with
// (sizes from its tensors, RoPE axes and theta from its metadata or
// `rope`), with its text side and training size from its "world" metadata;
// DataError naming the file when a toy part is missing or malformed.
std::unique_ptr<ToyTransformer> load_toy_transformer(const Weights& weights, const RopeOverride& rope = {},
                                                     at::ScalarType compute_dtype = at::kFloat,
                                                     at::Device device = at::kCPU);

struct ToyModel {
  std::unique_ptr<ToyTransformer> dit;  // with its text side
  const ToyText& text() const { return dit->text(); }
};
ToyModel load_toy(const std::string& path);
// Weights in `config` of a model of `vocabulary` trained at `image_size` (training).
ToyModel toy_from_weights(const Weights& weights, const FluxConfig& config, std::vector<std::string> vocabulary,
                          int64_t image_size);

// The rotary table for `batch` images of the model's training size with
// their prompts (text tokens at position zero, as FLUX places them).
at::Tensor toy_position_table(const ToyModel& model, int64_t batch);

// One DiT call: the velocity [B, L, 12] at packed images `xt` [B, L, 12] of
// the model's training size, times `t` [B], for the word ids [B, kMaxWords],
// with `pe` from toy_position_table.
at::Tensor predict_velocity(const ToyModel& model, const at::Tensor& xt, const at::Tensor& ids, const at::Tensor& t,
                            const at::Tensor& pe);

}  // namespace untwist::toy
