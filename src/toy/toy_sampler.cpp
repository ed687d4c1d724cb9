#include "toy/toy_sampler.h"

#include <ATen/core/grad_mode.h>

#include "model/packing.h"
#include "pipeline/image_set.h"
#include "sample/flux_sampler.h"
#include "sample/schedule.h"
#include "toy/toy_text.h"
#include "toy/world.h"

namespace untwist::toy {

at::Tensor sample_toy(const ToyModel& model, const ToyRequest& request) {
  const int64_t batch = static_cast<int64_t>(request.prompts.size()), side = kImageSize / 2;
  std::vector<at::Tensor> noise;
  for (uint64_t seed : request.seeds) noise.push_back(pack_latents(seeded_noise(seed, 3, kImageSize, kImageSize)));
  const TextEncoding text = encode_text(model.text, tokenize_batch(request.prompts));
  SamplingSetup setup;
  setup.noise = at::cat(noise, 0);  // [B, 256, 12]
  setup.img_ids = image_position_ids(batch, side, side);
  setup.txt = text.txt;
  setup.txt_ids = at::zeros({batch, kMaxWords, 3});
  setup.y = text.y;
  setup.times = flux_schedule(request.steps, side * side, /*shift=*/false);
  setup.share = request.share;
  setup.observer = request.observer;
  at::NoGradGuard no_grad;
  return unpack_pixels(sample_flux(*model.dit, setup));
}

}  // namespace untwist::toy
