#include "runner_batch.h"

#include <functional>

#include "cli_values.h"
#include "model/families.h"
#include "util/errors.h"

namespace untwist {

namespace {

// in.ref_latent (row 0), or in.ref_latent_0, in.ref_latent_1, ... (rows 0,
// 1, ...), each on its row's grid, or on a grid of its own where
// in.ref_img_ids_K says so (positions other than the row's own; that
// reference then needs its noise, in.ref_noise_K). `tokens` turns a file's
// latent or noise into image tokens [L, C] (the latents form stores them as
// latents [C, H, W]).
void read_references(const RunnerInputs& inputs, RunnerBatch& batch,
                     const std::function<at::Tensor(const at::Tensor&)>& tokens) {
  const at::Tensor& img_ids = batch.in.img_ids;
  if (inputs.has("in.ref_latent")) {
    batch.ref_latents = {tokens(inputs.required("in.ref_latent"))};
    return;
  }
  for (int64_t k = 0; inputs.has("in.ref_latent_" + std::to_string(k)); ++k) {
    const std::string number = std::to_string(k);
    if (k >= img_ids.size(0)) fail_file(inputs.path(), "has more reference latents than batch rows");
    const at::Tensor latent = tokens(inputs.required("in.ref_latent_" + number));
    const at::Tensor ids = inputs.optional("in.ref_img_ids_" + number);
    const bool own_grid = ids.defined() && (ids.sizes() != img_ids[k].sizes() || !at::equal(ids, img_ids[k]));
    batch.ref_latents.push_back(latent);
    batch.ref_ids.push_back(own_grid ? ids : at::Tensor());
    batch.ref_noises.push_back(own_grid ? tokens(inputs.required("in.ref_noise_" + number)) : at::Tensor());
    if (!own_grid) continue;
    if (ids.dim() != 2 || ids.size(1) != img_ids.size(2) || latent.dim() != 2 || latent.size(0) != ids.size(0) ||
        batch.ref_noises.back().sizes() != latent.sizes()) {
      fail_file(inputs.path(), "reference " + number + " on a grid of its own needs in.ref_latent_" + number +
                                   " [L, C], in.ref_noise_" + number + " of the same shape and in.ref_img_ids_" +
                                   number + " [L, " + std::to_string(img_ids.size(2)) + "]");
    }
  }
}

// The latents form (see RunnerBatch).
RunnerBatch read_latent_batch(const RunnerInputs& inputs, const DiffusionTransformer& model) {
  RunnerBatch batch;
  batch.latents = true;
  std::vector<at::Tensor> captions;
  while (inputs.has("in.cap_feats_" + std::to_string(captions.size()))) {
    const at::Tensor caption = inputs.required("in.cap_feats_" + std::to_string(captions.size()));
    if (caption.dim() != 2 || caption.size(0) == 0) {
      fail_file(inputs.path(), "'in.cap_feats_" + std::to_string(captions.size()) + "' has shape " +
                                   shape_string(caption.sizes().vec()) + ", not [L, C] with L > 0");
    }
    captions.push_back(caption);
  }
  if (captions.empty()) fail_file(inputs.path(), "has neither 'in.img' nor 'in.cap_feats_0'");
  const at::Tensor latents = inputs.optional("in.latents"), noise = inputs.optional("in.noise");
  if (!latents.defined() && !noise.defined()) fail_file(inputs.path(), "has captions but neither 'in.latents' nor 'in.noise'");
  const ImageTokens image = latent_to_tokens(model, latents.defined() ? latents : noise);
  const int64_t rows = image.tokens.size(0);
  if (static_cast<int64_t>(captions.size()) != rows) {
    fail_file(inputs.path(), "has " + std::to_string(captions.size()) + " captions (in.cap_feats_N) for " +
                                 std::to_string(rows) + " latents");
  }
  batch.rows = image.rows;
  batch.cols = image.cols;
  batch.in.img = image.tokens;
  if (noise.defined()) batch.noise = latent_to_tokens(model, noise).tokens;
  batch.in.img_ids = model.image_ids(rows, image.rows, image.cols);
  // The captions right-padded to the longest, with their real tokens.
  int64_t length = 0;
  for (const at::Tensor& caption : captions) length = std::max(length, caption.size(0));
  std::vector<at::Tensor> padded;
  batch.in.txt_mask = at::zeros({rows, length}, at::kBool);
  for (size_t b = 0; b < captions.size(); ++b) {
    padded.push_back(at::constant_pad_nd(captions[b], {0, 0, 0, length - captions[b].size(0)}));
    batch.in.txt_mask[static_cast<int64_t>(b)].narrow(0, 0, captions[b].size(0)).fill_(true);
  }
  batch.in.txt = at::stack(padded);  // [B, L_max, C]
  batch.in.txt_ids = model.text_ids(rows, length);
  const at::Tensor model_time = inputs.optional("in.timesteps");
  if (model_time.defined()) batch.in.timesteps = 1.0 - model_time;
  const at::Tensor negative = inputs.optional("in.neg_cap_feats");
  if (negative.defined()) {
    if (negative.dim() != 2) {
      fail_file(inputs.path(), "'in.neg_cap_feats' has shape " + shape_string(negative.sizes().vec()) + ", not [L, C]");
    }
    batch.negative_txt = negative.unsqueeze(0).expand({rows, -1, -1});  // [B, L, C]
  }
  read_references(inputs, batch, [&](const at::Tensor& latent) {
    if (latent.dim() != 3) fail_file(inputs.path(), "a reference latent or noise must be [C, H, W] in the latents form");
    return latent_to_tokens(model, latent.unsqueeze(0)).tokens[0];
  });
  return batch;
}

}  // namespace

RunnerBatch read_runner_batch(const RunnerInputs& inputs, const DiffusionTransformer& model) {
  // The latents form (per-row captions) when the file has it; else the token
  // form, whose missing tensors are named below.
  if (!inputs.has("in.img") && (inputs.has("in.latents") || inputs.has("in.cap_feats_0"))) {
    return read_latent_batch(inputs, model);
  }
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
  read_references(inputs, batch, [](const at::Tensor& tokens) { return tokens; });
  return batch;
}

SamplingSetup sampling_setup(const RunnerBatch& batch, const SamplingSettings& settings,
                             const DiffusionTransformer& model) {
  SamplingSetup setup;
  setup.noise = batch.noise.defined() ? batch.noise : batch.in.img;
  setup.conditioning = batch.in;
  setup.conditioning.img = at::Tensor();
  setup.conditioning.timesteps = at::Tensor();
  const double guidance = settings.guidance_for(model);
  setup.conditioning.guidance = at::full({setup.noise.size(0)}, guidance);
  if (model.classifier_free_guidance()) {
    setup.guidance = {guidance, settings.cfg_truncation, settings.cfg_normalization, batch.negative_txt, {}, {}};
    if (guidance > 1.0 && !batch.negative_txt.defined()) {
      throw InputError("classifier-free guidance (--guidance above 1) needs the negative text in.neg_cap_feats");
    }
  }
  setup.times = settings.times(model, setup.noise.size(1));
  for (size_t r = 0; r < batch.ref_latents.size(); ++r) {
    const bool own_grid = r < batch.ref_ids.size() && batch.ref_ids[r].defined();
    const at::Tensor& noise = own_grid ? batch.ref_noises[r] : setup.noise[static_cast<int64_t>(r)];
    setup.reference_paths.push_back(noised_path(batch.ref_latents[r], noise, setup.times));
    setup.reference_ids.push_back(own_grid ? batch.ref_ids[r] : at::Tensor());
  }
  return setup;
}

}  // namespace untwist
