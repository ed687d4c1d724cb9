#include "runner_batch.h"

#include "cli_values.h"
#include "util/errors.h"

namespace untwist {

RunnerBatch read_runner_batch(const RunnerInputs& inputs) {
  RunnerBatch batch;
  batch.in.img = inputs.required("in.img");
  batch.in.img_ids = inputs.required("in.img_ids");
  batch.in.txt = inputs.required("in.txt");
  batch.in.txt_ids = inputs.required("in.txt_ids");
  batch.in.y = inputs.optional("in.y");
  batch.in.timesteps = inputs.optional("in.timesteps");
  batch.in.guidance = inputs.optional("in.guidance");
  batch.in.cond = inputs.optional("in.img_cond_seq");
  batch.in.cond_ids = inputs.optional("in.img_cond_seq_ids");
  if (batch.in.cond.defined() != batch.in.cond_ids.defined()) {
    fail_file(inputs.path(), "has only one of 'in.img_cond_seq' and 'in.img_cond_seq_ids'; give both or neither");
  }
  batch.noise = inputs.optional("in.noise");
  batch.ref_latent = inputs.optional("in.ref_latent");
  return batch;
}

void SamplingFlags::add_to(CLI::App& command, int default_steps) {
  steps = default_steps;
  command.add_option("--steps", steps, "Euler sampling steps")->check(CLI::Range(1, 10000));
  command.add_option("--guidance", guidance, "guidance (guidance-embedded models)")
      ->check(finite_range(0.0, 100.0))->capture_default_str();
  auto* on = command.add_flag("--shift", shift, "force the shifted schedule (FLUX.1)");
  command.add_flag("--no-shift", no_shift, "force the unshifted schedule (FLUX.1)")->excludes(on);
}

std::vector<double> SamplingFlags::times(const DiffusionTransformer& model, int64_t image_tokens) const {
  std::optional<bool> shifted;
  if (shift) shifted = true;
  if (no_shift) shifted = false;
  return model.schedule(steps, image_tokens, shifted);
}

SamplingSetup sampling_setup(const RunnerBatch& batch, const SamplingFlags& flags, const DiffusionTransformer& model) {
  SamplingSetup setup;
  setup.noise = batch.noise.defined() ? batch.noise : batch.in.img;
  setup.conditioning = batch.in;
  setup.conditioning.img = at::Tensor();
  setup.conditioning.timesteps = at::Tensor();
  setup.conditioning.guidance = at::full({setup.noise.size(0)}, flags.guidance);
  setup.times = flags.times(model, setup.noise.size(1));
  setup.reference_latent = batch.ref_latent;
  return setup;
}

}  // namespace untwist
