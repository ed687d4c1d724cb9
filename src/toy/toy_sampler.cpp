#include "toy/toy_sampler.h"

#include <ATen/core/grad_mode.h>

#include "model/flux1/packing.h"
#include "model/seeded_noise.h"
#include "sample/dit_sampler.h"
#include "model/flow_schedule.h"
#include "toy/toy_text.h"
#include "toy/world.h"

namespace untwist::toy {

at::Tensor sample_toy(const ToyModel& model, const ToyRequest& request) {
  const int64_t batch = static_cast<int64_t>(request.prompts.size()), side = kTokenSide;
  std::vector<at::Tensor> noise;
  for (uint64_t seed : request.seeds) noise.push_back(pack_latents(seeded_randn(seed, {1, 3, kImageSize, kImageSize})));
  const TextEncoding text = encode_text(model.text, tokenize_batch(request.prompts));
  SamplingSetup setup;
  setup.noise = at::cat(noise, 0);  // [B, 256, 12]
  setup.conditioning.img_ids = model.dit->image_ids(batch, side, side);
  setup.conditioning.txt = text.txt;
  setup.conditioning.txt_ids = model.dit->text_ids(batch, kMaxWords);
  setup.conditioning.y = text.y;
  setup.conditioning.guidance = at::ones({batch});
  setup.times = flux_schedule(request.steps, side * side, /*shift=*/false);
  setup.share = request.share;
  setup.observer = request.observer;
  setup.on_step = request.on_step;
  if (request.reference_image.defined()) {
    const at::Tensor latent = pack_latents(request.reference_image.unsqueeze(0) * 2 - 1)[0];  // [256, 12]
    setup.reference_paths = {noised_path(latent, setup.noise[0], setup.times)};
  }
  at::NoGradGuard no_grad;
  return unpack_pixels(sample_dit(*model.dit, setup));
}

}  // namespace untwist::toy
