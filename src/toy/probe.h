// Probing how well the toy model follows its prompts, unshared: samples of
// random full prompts read back attribute by attribute, and one-call
// denoising of rendered scenes from noise level t (how early in sampling the
// model can lay out the prompted shape). The model card's numbers through
// training come from here (`untwist toy probe`).
#pragma once
#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "model/toy/toy_model.h"
#include "toy/world.h"

namespace untwist::toy {

// Shares of images showing what their scene's prompt asked for.
struct PromptFollowing {
  double background = 0;     // background colour within 0.2 (RGB distance) of the prompted one
  double object_colour = 0;  // object's mean colour within 0.25 of the rendered object's
  double texture = 0;        // the texture reader finds the prompted texture
  double objects = 0;        // an object at all
  double shape = 0;          // the template classifier finds the prompted shape
  double position = 0;       // the object's bounding box is centred in the prompted cell
  int images = 0;
};

// Fixed random scenes (all attributes prompted) for probing.
std::vector<Scene> probe_scenes(int count, uint64_t seed);
// Each scene's prompt naming all its attributes `vocabulary` has words for.
std::vector<std::string> full_prompts(const std::vector<Scene>& scenes, const std::vector<std::string>& vocabulary);

// images: [N, 3, 32, 32] in [0, 1], image i meant to show scenes[i].
PromptFollowing score_prompt_following(const at::Tensor& images, const std::vector<Scene>& scenes);

struct Denoising {
  double t = 0;
  double clean_mse = 0;      // predicted clean image against the rendered scene, pixels in [0, 1]
  double shape = 0;          // share of predictions showing the prompted shape
  // The same noised scenes with prompts that name another shape: the share of
  // predictions showing the named shape instead of the noised one. Near 1 at
  // high t where the model lays out the shape its prompt names; near 0 where
  // it only follows the image (the shape word unread).
  double named_shape = 0;
};

// Each scene rendered, noised to t with seeded noise, and predicted clean by
// one model call with its full prompt: x0 = x_t - t * v; and once more with
// the prompt naming another shape (named_shape).
Denoising denoise_from(const ToyModel& model, const std::vector<Scene>& scenes, double t, uint64_t seed);

}  // namespace untwist::toy
