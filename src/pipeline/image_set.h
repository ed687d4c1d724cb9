// Prompts to images with any family: text conditioning, seeded noise as the
// reference pipeline draws it, sampling (plain, or a style-aligned set with
// row 0 the reference), decoding.
#pragma once
#include <ATen/ATen.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/components.h"
#include "sample/sampling_settings.h"
#include "share/reference_positions.h"
#include "share/share_settings.h"
#include "share/shared_attention.h"

namespace untwist {

struct ImageSettings : SamplingSettings {
  // Pixels, multiples of the autoencoder's token patch (16 for FLUX); 0: the
  // model's default size (DiffusionTransformer::default_image_size).
  int64_t width = 0, height = 0;
  std::string negative_prompt;  // classifier-free guidance's negative prompt (the reference's default: empty)

  int64_t width_for(const DiffusionTransformer& model) const { return width > 0 ? width : model.default_image_size(); }
  int64_t height_for(const DiffusionTransformer& model) const {
    return height > 0 ? height : model.default_image_size();
  }
};

// A request's prompts, and the negative prompt where the family guides with
// one, encoded once: renders that differ only in how they share reuse them.
struct EncodedText {
  TextConditioning prompts;   // one row per prompt
  TextConditioning negative;  // one row, or undefined without classifier-free guidance
};
EncodedText encode_text(Pipeline& pipeline, const std::vector<std::string>& prompts, const ImageSettings& settings);

struct RenderRequest {
  // With sharing, the first prompts are the references' (one per
  // share->reference_weights, at least one), then the targets'.
  std::vector<std::string> prompts;
  std::vector<uint64_t> seeds;  // one per prompt
  ImageSettings settings;
  const ShareSettings* share = nullptr;
  // Entry r: the image [3, H_r, W_r] in [0, 1] that reference row r follows,
  // or undefined where that reference is generated from its prompt. An image
  // of another size than the set's (multiples of the patch) keeps its own
  // token grid, placed on the set's by `reference_positions`.
  std::vector<at::Tensor> reference_images;
  ReferencePositions reference_positions = ReferencePositions::Centre;
  // Entry r, where defined: the latent path [T + 1, L_r, C] reference row r
  // follows instead of its image noised along the schedule (an inversion's
  // trajectory; see SamplingSetup::reference_paths).
  std::vector<at::Tensor> reference_paths;
  // [3, H, W] in [0, 1] each, H and W multiples of the patch: in-context images
  // every row attends to (FLUX.2's editing input)
  std::vector<at::Tensor> edit_images;
  SharedAttentionObserver* observer = nullptr;  // e.g. the copying meter
  std::function<void(int)> on_step;
  const EncodedText* text = nullptr;  // the prompts already encoded; encoded by render when null
};

// The token grid of an image [3, H, W]; UsageError unless H and W are
// multiples of the autoencoder's patch.
TokenGrid image_token_grid(const Pipeline& pipeline, const at::Tensor& image);
// A reference image [3, H, W] resampled for a set of height x width images:
// its aspect ratio kept at `scale` times the set's side (scale^2 its area),
// sides multiples of `patch`, centre-cropped by what the rounding leaves. An
// image of the set's shape at scale 1 comes out at the set's size.
at::Tensor fit_reference_image(const at::Tensor& image, int64_t height, int64_t width, double scale, int64_t patch);
// image [3, H, W] in [0, 1], H and W multiples of the autoencoder's patch ->
// its latent tokens [1, h*w, C]; DataError naming the autoencoder's file when
// they are not finite.
at::Tensor encode_image_tokens(const Pipeline& pipeline, const at::Tensor& image);
// tokens [B, rows*cols, C] -> images [B, 3, H, W] in [0, 1].
at::Tensor decode_image_tokens(const Pipeline& pipeline, const at::Tensor& tokens, int64_t rows, int64_t cols);

// Token grid (rows, columns) of an image of the settings' size (the model's
// default where they give none); UsageError unless width and height are
// multiples of the autoencoder's patch.
std::pair<int64_t, int64_t> token_grid_for(const Pipeline& pipeline, const ImageSettings& settings);

// -> images [B, 3, H, W] in [0, 1]: a reference row given as an image is that
// image, resized and centre-cropped to the set's size where it has its own.
at::Tensor render(Pipeline& pipeline, const RenderRequest& request);

}  // namespace untwist
