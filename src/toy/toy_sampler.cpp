#include "toy/toy_sampler.h"

#include <ATen/core/grad_mode.h>

#include "io/image_file.h"
#include "model/toy/pixel_latents.h"
#include "model/toy/toy_text.h"
#include "sample/dit_sampler.h"
#include "share/reference_positions.h"
#include "util/errors.h"

namespace untwist::toy {

namespace {

int64_t grid_side(const ToyModel& model) { return model.dit->default_image_size() / kPixelPatch; }

}  // namespace

DitInputs toy_inputs(const ToyModel& model, const std::vector<std::string>& prompts) {
  const DiffusionTransformer& dit = *model.dit;
  const auto batch = static_cast<int64_t>(prompts.size());
  const TextConditioning text = encode_prompts(model.text(), prompts);
  DitInputs inputs;
  inputs.img_ids = dit.image_ids(batch, grid_side(model), grid_side(model));
  inputs.txt = text.txt;
  inputs.txt_ids = dit.text_ids(batch, kMaxWords);
  inputs.y = text.y;
  inputs.guidance = at::ones({batch});
  return inputs;
}

std::vector<double> times_for(const ToyModel& model, int steps) {
  return model.dit->schedule(steps, grid_side(model) * grid_side(model), std::nullopt);
}

at::Tensor sample_toy(const ToyModel& model, const ToyRequest& request) {
  const DiffusionTransformer& dit = *model.dit;
  const int64_t side = grid_side(model);
  std::vector<at::Tensor> noise;
  for (uint64_t seed : request.seeds) noise.push_back(pixel_noise(seed, side, side));
  SamplingSetup setup;
  setup.noise = at::cat(noise, 0);  // [B, side * side, 12]
  setup.conditioning = toy_inputs(model, request.prompts);
  setup.times = times_for(model, request.steps);
  if (request.guidance > 1) {
    const TextConditioning empty = encode_prompts(model.text(), std::vector<std::string>(request.prompts.size()));
    setup.guidance.scale = request.guidance;
    setup.guidance.txt = empty.txt;
    setup.guidance.y = empty.y;
  }
  setup.share = request.share;
  setup.observer = request.observer;
  setup.on_step = request.on_step;
  if (request.reference_image.defined()) {
    const at::Tensor& image = request.reference_image;
    if (image.dim() != 3 || image.size(0) != 3 || image.size(1) < kPixelPatch || image.size(2) < kPixelPatch ||
        image.size(1) % kPixelPatch || image.size(2) % kPixelPatch) {
      throw InputError("a toy reference image must be RGB with sides multiples of " + std::to_string(kPixelPatch) +
                       ", got " + shape_string(image.sizes().vec()));
    }
    const TokenGrid grid{image.size(1) / kPixelPatch, image.size(2) / kPixelPatch};
    const bool own_grid = grid.rows != side || grid.cols != side;
    const at::Tensor noise = own_grid ? pixel_noise(request.seeds.at(0), grid.rows, grid.cols)[0] : setup.noise[0];
    setup.reference_paths = {request.reference_path.defined()
                                 ? request.reference_path
                                 : noised_path(pack_pixels(image.unsqueeze(0))[0], noise, setup.times)};
    if (own_grid) {
      setup.reference_ids = {reference_grid_ids(dit, grid, {side, side}, ReferencePositions::Centre)};
    }
  }
  at::NoGradGuard no_grad;
  at::Tensor images = unpack_pixels(sample_dit(dit, setup), side, side);
  if (!setup.reference_ids.empty()) {  // a reference of its own size, shown at the set's
    images[0].copy_(resize_and_crop(request.reference_image, images.size(2), images.size(3)));
  }
  return images;
}

}  // namespace untwist::toy
