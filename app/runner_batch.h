// What the tensor-level commands share: the in.* batch of a runner's inputs
// file, and the sampling flags (--steps, --guidance, --shift/--no-shift).
#pragma once
#include <CLI/CLI.hpp>

#include "model/flux.h"
#include "runner_inputs.h"
#include "sample/flux_sampler.h"

namespace untwist {

struct RunnerBatch {
  FluxInputs in;          // img, txt, y; timesteps and guidance when the file has them
  at::Tensor img_ids, txt_ids;
  at::Tensor ref_latent;  // [L_img, C] when the file holds an image reference
};

RunnerBatch read_runner_batch(const RunnerInputs& inputs);

struct SamplingFlags {
  int steps = 0;
  double guidance = 3.5;
  bool shift = false, no_shift = false;

  void add_to(CLI::App& command, int default_steps);
  // The schedule for this batch: shifted for guidance-embedded models unless overridden.
  std::vector<double> times(const FluxConfig& config, int64_t image_tokens) const;
};

// A sampling run of the batch from in.img (row 0 following in.ref_latent when present).
SamplingSetup sampling_setup(const RunnerBatch& batch, const SamplingFlags& flags, const FluxConfig& config);

}  // namespace untwist
