#include "sample/dit_sampler.h"

#include <optional>

#include "sample/euler.h"
#include "share/knob_schedule.h"
#include "util/errors.h"

namespace untwist {

void require_finite_velocity(const at::Tensor& velocity, const DiffusionTransformer& model, const DitInputs& inputs,
                             const at::Tensor& pe, const AttentionHook* hook, int step, int steps) {
  if (at::isfinite(velocity).all().item<bool>()) return;
  std::string where = "the model's output";
  if (const auto site = model.locate_non_finite(inputs, pe, hook)) {
    where = site->stage + ", batch row " + std::to_string(site->row);
  }
  std::string message = "values became NaN or infinite";
  if (steps > 0) message += " at step " + std::to_string(step + 1) + " of " + std::to_string(steps);
  message += ", first in " + where;
  const std::string weight = model.first_non_finite_weight();
  if (!weight.empty()) {
    message += "; the transformer's tensor '" + weight + "' holds NaN or Inf";
  } else {
    for (const auto& [name, tensor] : {std::pair{"latent", inputs.img}, {"text states", inputs.txt},
                                       {"pooled text vector", inputs.y}, {"in-context image", inputs.cond}}) {
      if (tensor.defined() && !at::isfinite(tensor).all().item<bool>()) {
        message += std::string("; its input ") + name + " is not finite";
      }
    }
  }
  throw DataError((steps > 0 ? "sampling stopped: " : "") + message);
}

ShareSettings bind_to(const ShareSettings& settings, const DiffusionTransformer& model) {
  ShareSettings bound = settings;
  bound.blocks = settings.blocks.bind(model.block_groups(), model.default_shared_blocks());
  return bound;
}

SharedAttention shared_attention_for(const ShareSettings& bound, const DiffusionTransformer& model,
                                     const at::Tensor& img_ids, int step, int steps,
                                     SharedAttentionObserver* observer) {
  at::Tensor shifted_ref_pe;
  if (bound.mode == ShareMode::AlignedGen) {
    const int64_t cols = token_grid(img_ids, model.rope()).second;
    shifted_ref_pe = shifted_reference_positions(img_ids[0], model.rope(), cols);
  }
  return SharedAttention(bound, knobs_at(bound, step, steps), model.rope(), shifted_ref_pe, observer);
}

at::Tensor sample_dit(const DiffusionTransformer& model, const SamplingSetup& setup) {
  const int64_t batch = setup.noise.size(0);
  const int steps = static_cast<int>(setup.times.size()) - 1;
  DitInputs inputs = setup.conditioning;
  inputs.img = setup.noise;
  const at::Tensor pe = model.position_table(inputs);
  const bool image_reference = setup.reference_latent.defined();
  if (image_reference && setup.reference_latent.sizes() != setup.noise[0].sizes()) {
    throw DataError("reference latent has shape " + shape_string(setup.reference_latent.sizes().vec()) +
                    ", expected " + shape_string(setup.noise[0].sizes().vec()) + " (one image's tokens)");
  }
  std::optional<ShareSettings> share;
  if (setup.share) share = bind_to(*setup.share, model);
  const at::Tensor reference_noise = image_reference ? setup.noise[0].clone() : at::Tensor();
  if (model.guidance_embedded() && !inputs.guidance.defined()) {
    throw InputError("a guidance-embedded model needs a guidance value");
  }

  at::Tensor result = euler_sample(setup.noise, setup.times, [&](const at::Tensor& state, double t, int step) {
    inputs.img = state;
    if (image_reference) {
      inputs.img = state.clone();
      inputs.img[0].copy_((1.0 - t) * setup.reference_latent + t * reference_noise);
    }
    inputs.timesteps = at::full({batch}, t);
    std::optional<SharedAttention> hook;
    if (share) {
      if (setup.observer) setup.observer->begin_step(step, t);
      hook.emplace(shared_attention_for(*share, model, inputs.img_ids, step, steps, setup.observer));
    }
    const AttentionHook* attention = hook ? &*hook : nullptr;
    at::Tensor velocity = model.forward(inputs, pe, attention);
    require_finite_velocity(velocity, model, inputs, pe, attention, step, steps);
    if (setup.on_step) setup.on_step(step);
    return velocity;
  });
  if (image_reference) result[0].copy_(setup.reference_latent);
  return result;
}

}  // namespace untwist
