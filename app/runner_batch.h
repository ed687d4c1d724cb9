// What the tensor-level commands share: the in.* batch of a runner's inputs
// file, and the sampling run it sets up.
#pragma once
#include "model/dit.h"
#include "runner_inputs.h"
#include "sample/dit_sampler.h"
#include "sample/sampling_settings.h"

namespace untwist {

// A runner's batch comes in one of two forms:
// - image tokens: in.img, in.img_ids, in.txt, in.txt_ids (FLUX files);
// - latents (Z-Image files): in.latents and/or in.noise [B, C, H, W], one
//   caption per row, in.cap_feats_0..B-1 [L_b, C] each its own length, the
//   negative in.neg_cap_feats [L, C], and in.timesteps in the reference's
//   model time (0 = noise), whose output is the negated velocity.
struct RunnerBatch {
  // img, img_ids, txt (txt_mask), txt_ids; y, timesteps (untwist's t, 1 =
  // noise), guidance and the in-context tokens (in.img_cond_seq,
  // in.img_cond_seq_ids) when the file has them
  DitInputs in;
  at::Tensor noise;         // in.noise: where sampling starts when present (else in.img)
  // Image references, entry K for row K: in.ref_latent_K [L_img, C] (or the
  // one in.ref_latent for row 0; in the latents form [C, H, W]) as image
  // tokens; empty when the file has none.
  std::vector<at::Tensor> ref_latents;
  // Entry K, where reference K has a grid of its own: its ids
  // in.ref_img_ids_K [L_K, A] and its noise in.ref_noise_K [L_K, C].
  std::vector<at::Tensor> ref_ids, ref_noises;
  at::Tensor negative_txt;  // [B, L, C] in.neg_cap_feats for every row, when present
  bool latents = false;     // the latents form: outputs go back to latents on this token grid
  int64_t rows = 0, cols = 0;
};

// The batch as `model` takes it; DataError naming the file for a missing or
// misshapen tensor.
RunnerBatch read_runner_batch(const RunnerInputs& inputs, const DiffusionTransformer& model);


// A sampling run of the batch from in.noise or in.img (reference rows
// following their in.ref_latent_K when present) with the settings' guidance: embedded, or
// classifier-free with the batch's negative text where the family takes it.
SamplingSetup sampling_setup(const RunnerBatch& batch, const SamplingSettings& settings,
                             const DiffusionTransformer& model);

}  // namespace untwist
