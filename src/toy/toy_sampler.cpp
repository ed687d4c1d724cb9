#include "toy/toy_sampler.h"

#include <ATen/core/grad_mode.h>

#include "model/toy/pixel_latents.h"
#include "model/toy/toy_text.h"
#include "sample/dit_sampler.h"

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
    const at::Tensor latent = pack_pixels(request.reference_image.unsqueeze(0))[0];  // [side * side, 12]
    setup.reference_paths = {noised_path(latent, setup.noise[0], setup.times)};
  }
  at::NoGradGuard no_grad;
  return unpack_pixels(sample_dit(dit, setup), side, side);
}

}  // namespace untwist::toy
