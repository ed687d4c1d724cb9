// What the tensor-level commands share: the in.* batch of a runner's inputs
// file, and the sampling flags (--steps, --guidance, --shift/--no-shift).
#pragma once
#include <CLI/CLI.hpp>

#include "model/dit.h"
#include "runner_inputs.h"
#include "sample/dit_sampler.h"

namespace untwist {

struct RunnerBatch {
  // img, img_ids, txt, txt_ids; y, timesteps, guidance and the in-context
  // tokens (in.img_cond_seq, in.img_cond_seq_ids) when the file has them
  DitInputs in;
  at::Tensor noise;       // in.noise: where sampling starts when present (else in.img)
  at::Tensor ref_latent;  // [L_img, C] when the file holds an image reference
};

RunnerBatch read_runner_batch(const RunnerInputs& inputs);

struct SamplingFlags {
  int steps = 0;
  double guidance = 3.5;
  bool shift = false, no_shift = false;

  void add_to(CLI::App& command, int default_steps);
  // The model's schedule for this batch; --shift/--no-shift override the
  // family's default where it has a choice.
  std::vector<double> times(const DiffusionTransformer& model, int64_t image_tokens) const;
};

// A sampling run of the batch from in.noise or in.img (row 0 following
// in.ref_latent when present) with the flags' guidance.
SamplingSetup sampling_setup(const RunnerBatch& batch, const SamplingFlags& flags, const DiffusionTransformer& model);

}  // namespace untwist
