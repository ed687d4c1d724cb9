#include "runner_batch.h"

#include "cli_values.h"
#include "sample/schedule.h"

namespace untwist {

RunnerBatch read_runner_batch(const RunnerInputs& inputs) {
  RunnerBatch batch;
  batch.in.img = inputs.required("in.img");
  batch.in.txt = inputs.required("in.txt");
  batch.in.y = inputs.required("in.y");
  batch.in.timesteps = inputs.optional("in.timesteps");
  batch.in.guidance = inputs.optional("in.guidance");
  batch.img_ids = inputs.required("in.img_ids");
  batch.txt_ids = inputs.required("in.txt_ids");
  batch.ref_latent = inputs.optional("in.ref_latent");
  return batch;
}

void SamplingFlags::add_to(CLI::App& command, int default_steps) {
  steps = default_steps;
  command.add_option("--steps", steps, "Euler sampling steps")->check(CLI::Range(1, 10000));
  command.add_option("--guidance", guidance, "guidance (guidance-embedded models)")
      ->check(finite_range(0.0, 100.0))->capture_default_str();
  auto* on = command.add_flag("--shift", shift, "force the shifted schedule");
  command.add_flag("--no-shift", no_shift, "force the unshifted schedule")->excludes(on);
}

std::vector<double> SamplingFlags::times(const FluxConfig& config, int64_t image_tokens) const {
  return flux_schedule(steps, image_tokens, shift || (!no_shift && config.guidance_embed));
}

SamplingSetup sampling_setup(const RunnerBatch& batch, const SamplingFlags& flags, const FluxConfig& config) {
  SamplingSetup setup;
  setup.noise = batch.in.img;
  setup.img_ids = batch.img_ids;
  setup.txt = batch.in.txt;
  setup.txt_ids = batch.txt_ids;
  setup.y = batch.in.y;
  setup.times = flags.times(config, batch.in.img.size(1));
  setup.guidance = flags.guidance;
  setup.reference_latent = batch.ref_latent;
  return setup;
}

}  // namespace untwist
