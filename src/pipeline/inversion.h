// A real image inverted with a pipeline: one prompt's conditioning and
// velocity, the inversion trajectory under that prompt, and the regeneration
// from the inverted noise.
//
// The velocity is the model's conditional one: families whose guidance is
// embedded (FLUX) get the settings' guidance value; families with
// classifier-free guidance (Z-Image) are inverted and regenerated without it.
#pragma once
#include <ATen/ATen.h>

#include <functional>
#include <string>
#include <vector>

#include "pipeline/components.h"
#include "pipeline/image_set.h"
#include "sample/inversion.h"

namespace untwist {

// Everything the model takes for one image of the settings' size under the
// encoded prompt `text` (one row) but img and timesteps: image and text ids,
// text states and mask, pooled vector, the guidance value (batch 1).
DitInputs prompt_conditioning(const Pipeline& pipeline, const TextConditioning& text, const ImageSettings& settings);

// The model's velocity under `conditioning` (its rows must match the state's),
// without classifier-free guidance; stops with require_finite_velocity's
// error naming the step of `steps`. `on_call` runs after each model call.
VelocityFn conditional_velocity(const DiffusionTransformer& model, const DitInputs& conditioning, int steps,
                                std::function<void()> on_call = {});

struct ImageInversion {
  DitInputs conditioning;     // the prompt's, batch 1
  std::vector<double> times;  // the sampling schedule, from 1 down to 0
  int64_t rows = 0, cols = 0; // the token grid
  // [T + 1, 1, rows*cols, C]: entry i is the latent at times[i]; entry T is
  // the image's own tokens, entry 0 the inverted noise.
  at::Tensor trajectory;
};

// Encodes `image` ([3, H, W] in [0, 1], H and W multiples of the patch:
// UsageError otherwise) and inverts it on its own token grid under the encoded
// prompt `text` (one row), on `times` (from 1 down to 0; empty: the
// settings' schedule for the image's tokens).
ImageInversion invert_image(const Pipeline& pipeline, const at::Tensor& image, const TextConditioning& text,
                            const ImageSettings& settings, InversionSolver solver,
                            std::function<void()> on_call = {}, std::vector<double> times = {});

// A reference image's inversion for a set of the settings' size, under its
// encoded caption (one row): its path [T + 1, L, C] on the set's schedule,
// whatever the image's own size (SamplingSetup::reference_paths).
at::Tensor reference_inversion_path(const Pipeline& pipeline, const at::Tensor& image, const TextConditioning& caption,
                                    const ImageSettings& settings, InversionSolver solver,
                                    std::function<void()> on_call = {});

// The inverted noise sampled back under the same prompt and schedule:
// -> tokens [1, rows*cols, C].
at::Tensor regenerate_tokens(const Pipeline& pipeline, const ImageInversion& inversion, InversionSolver solver,
                             std::function<void()> on_call = {});

// Peak signal-to-noise ratio in dB of two images in [0, 1] of the same shape
// (infinity when they are equal).
double image_psnr(const at::Tensor& image, const at::Tensor& reference);

}  // namespace untwist
