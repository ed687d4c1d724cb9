#include "toy/toy_sampler.h"

#include <ATen/core/grad_mode.h>

#include "io/image_file.h"
#include "model/toy/pixel_latents.h"
#include "model/toy/toy_text.h"
#include "sample/dit_sampler.h"
#include "share/reference_positions.h"

namespace untwist::toy {

at::Tensor sample_toy(const ToyModel& model, const ToyRequest& request) {
  const DiffusionTransformer& dit = *model.dit;
  const int64_t batch = static_cast<int64_t>(request.prompts.size());
  const int64_t side = dit.default_image_size() / kPixelPatch;
  std::vector<at::Tensor> noise;
  for (uint64_t seed : request.seeds) noise.push_back(pixel_noise(seed, side, side));
  const TextConditioning text = encode_prompts(model.text(), request.prompts);
  SamplingSetup setup;
  setup.noise = at::cat(noise, 0);  // [B, side * side, 12]
  setup.conditioning.img_ids = dit.image_ids(batch, side, side);
  setup.conditioning.txt = text.txt;
  setup.conditioning.txt_ids = dit.text_ids(batch, kMaxWords);
  setup.conditioning.y = text.y;
  setup.conditioning.guidance = at::ones({batch});
  setup.times = dit.schedule(request.steps, side * side, std::nullopt);
  setup.share = request.share;
  setup.observer = request.observer;
  setup.on_step = request.on_step;
  if (request.reference_image.defined()) {
    const at::Tensor& image = request.reference_image;
    const TokenGrid grid{image.size(1) / kPixelPatch, image.size(2) / kPixelPatch};
    const at::Tensor latent = pack_pixels(image.unsqueeze(0))[0];  // [rows * cols, 12]
    if (grid.rows == side && grid.cols == side) {
      setup.reference_paths = {noised_path(latent, setup.noise[0], setup.times)};
    } else {
      const at::Tensor own_noise = pixel_noise(request.seeds.at(0), grid.rows, grid.cols)[0];
      setup.reference_paths = {noised_path(latent, own_noise, setup.times)};
      setup.reference_ids = {place_reference_ids(dit.image_ids(1, grid.rows, grid.cols)[0], dit.rope(), grid,
                                                 {side, side}, ReferencePositions::Centre)};
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
