#include "pipeline/image_set.h"

#include <ATen/CPUGeneratorImpl.h>

#include "model/flux1/packing.h"
#include "pipeline/components.h"
#include "sample/dit_sampler.h"
#include "model/flow_schedule.h"
#include "util/errors.h"
#include "util/memory.h"

namespace untwist {

namespace {

// A DataError naming the component's file, and its first weight holding NaN or
// Inf, when `output` (computed by that component) is not finite.
const at::Tensor& require_finite(const at::Tensor& output, const std::string& component, const std::string& what) {
  if (at::isfinite(output).all().item<bool>()) return output;
  const std::string weight = load_component(component).first_non_finite();
  fail_file(component, what + " produced NaN or Inf" +
                           (weight.empty() ? std::string() : ": its tensor '" + weight + "' holds NaN or Inf"));
}

}  // namespace

int ImageSettings::steps_for(const FluxConfig& config) const {
  return steps > 0 ? steps : (config.guidance_embed ? 28 : 4);
}

bool ImageSettings::shift_for(const FluxConfig& config) const {
  return shift < 0 ? config.guidance_embed : shift == 1;
}

int64_t ImageSettings::t5_length_for(const FluxConfig& config) const {
  return t5_max_length > 0 ? t5_max_length : (config.guidance_embed ? 512 : 256);
}

Conditioning encode_prompts(Pipeline& pipeline, const std::vector<std::string>& prompts, int64_t t5_max_length) {
  std::vector<int64_t> t5_ids, clip_ids;
  for (const auto& prompt : prompts) {
    const auto t5 = pipeline.t5_tokenizer->input_ids(prompt, t5_max_length);
    const auto clip = pipeline.clip_tokenizer->input_ids(prompt, 77);
    t5_ids.insert(t5_ids.end(), t5.begin(), t5.end());
    clip_ids.insert(clip_ids.end(), clip.begin(), clip.end());
  }
  const int64_t batch = static_cast<int64_t>(prompts.size());
  if (!pipeline.t5 || !pipeline.clip) load_text_encoders(pipeline);
  Conditioning conditioning;
  conditioning.txt = require_finite(pipeline.t5->forward(at::tensor(t5_ids).reshape({batch, t5_max_length})),
                                    pipeline.paths.t5, "the T5 encoder");
  conditioning.y = require_finite(pipeline.clip->forward(at::tensor(clip_ids).reshape({batch, 77})).pooler_output,
                                  pipeline.paths.clip, "the CLIP text encoder");
  conditioning.txt_ids = at::zeros({batch, t5_max_length, 3});
  if (pipeline.low_memory) {
    pipeline.t5.reset();
    pipeline.clip.reset();
  }
  return_free_memory_to_system();  // the encoders' blocks fit nothing the transformer asks for
  return conditioning;
}

at::Tensor seeded_noise(uint64_t seed, int64_t channels, int64_t latent_h, int64_t latent_w) {
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::randn({1, channels, latent_h, latent_w}, generator, at::TensorOptions().dtype(at::kBFloat16))
      .to(at::kFloat);
}

std::pair<int64_t, int64_t> token_grid_for(const Pipeline& pipeline, const ImageSettings& settings) {
  const int64_t patch = 2 * pipeline.ae->downscale();
  return {settings.height / patch, settings.width / patch};
}

at::Tensor render(Pipeline& pipeline, const RenderRequest& request) {
  const FluxConfig& config = pipeline.dit->config();
  const ImageSettings& s = request.settings;
  const int64_t patch = 2 * pipeline.ae->downscale();  // pixels per packed token side: 16 for FLUX.1
  if (s.width < patch || s.height < patch || s.width % patch || s.height % patch) {
    throw UsageError("-W/-H must be multiples of " + std::to_string(patch) + ", got " + std::to_string(s.width) +
                     "x" + std::to_string(s.height));
  }
  const int64_t batch = static_cast<int64_t>(request.prompts.size());
  if (batch == 0 || request.seeds.size() != request.prompts.size()) throw UsageError("one seed per prompt is needed");
  const int64_t channels = config.in_channels / 4, h = s.height / patch, w = s.width / patch;

  std::vector<at::Tensor> noise;
  for (uint64_t seed : request.seeds) noise.push_back(pack_latents(seeded_noise(seed, channels, 2 * h, 2 * w)));
  const Conditioning conditioning = encode_prompts(pipeline, request.prompts, s.t5_length_for(config));

  SamplingSetup setup;
  setup.noise = at::cat(noise, 0);  // [B, h*w, C*4]
  setup.conditioning.img_ids = pipeline.dit->image_ids(batch, h, w);
  setup.conditioning.txt = conditioning.txt;
  setup.conditioning.txt_ids = conditioning.txt_ids;
  setup.conditioning.y = conditioning.y;
  setup.conditioning.guidance = at::full({batch}, s.guidance);
  setup.times = flux_schedule(s.steps_for(config), h * w, s.shift_for(config));
  setup.share = request.share;
  setup.on_step = request.on_step;
  setup.observer = request.observer;
  if (request.reference_image.defined()) {
    const at::Tensor image = request.reference_image.unsqueeze(0) * 2 - 1;  // [1, 3, H, W] in [-1, 1]
    const at::Tensor latent = require_finite(pipeline.ae->encode(image), pipeline.paths.ae, "the autoencoder");
    setup.reference_latent = pack_latents(latent)[0];  // [h*w, C*4]
  }
  const at::Tensor latents = sample_dit(*pipeline.dit, setup);
  return_free_memory_to_system();  // nor do the transformer's fit the decoder's
  const at::Tensor decoded =
      require_finite(pipeline.ae->decode(unpack_latents(latents, h, w)), pipeline.paths.ae, "the autoencoder");
  at::Tensor images = ((decoded + 1) / 2).clamp(0, 1);  // [B, 3, H, W]
  if (request.reference_image.defined()) images[0].copy_(request.reference_image);
  return images;
}

}  // namespace untwist
