#include "sample/flux_sampler.h"

#include <optional>

#include "model/packing.h"
#include "sample/euler.h"
#include "share/knob_schedule.h"
#include "util/errors.h"

namespace untwist {

void require_finite_velocity(const at::Tensor& velocity, const FluxModel& model, const FluxInputs& inputs,
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
                                       {"pooled text vector", inputs.y}}) {
      if (!at::isfinite(tensor).all().item<bool>()) message += std::string("; its input ") + name + " is not finite";
    }
  }
  throw DataError((steps > 0 ? "sampling stopped: " : "") + message);
}

at::Tensor sample_flux(const FluxModel& model, const SamplingSetup& setup) {
  const int64_t batch = setup.noise.size(0);
  const int steps = static_cast<int>(setup.times.size()) - 1;
  const at::Tensor pe = model.position_table(setup.txt_ids, setup.img_ids);
  const bool image_reference = setup.reference_latent.defined();
  if (image_reference && setup.reference_latent.sizes() != setup.noise[0].sizes()) {
    throw DataError("reference latent has shape " + shape_string(setup.reference_latent.sizes().vec()) +
                    ", expected " + shape_string(setup.noise[0].sizes().vec()) + " (one packed image)");
  }
  at::Tensor shifted_ref_pe;
  if (setup.share && setup.share->mode == ShareMode::AlignedGen) {
    const auto [h, w] = token_grid(setup.img_ids);
    shifted_ref_pe = shifted_reference_positions(h, w, model.config().axes_dim, model.config().theta);
  }
  if (setup.share) setup.share->blocks.check_against(model.config().depth, model.config().depth_single_blocks);
  const at::Tensor reference_noise = image_reference ? setup.noise[0].clone() : at::Tensor();

  FluxInputs inputs{{}, setup.txt, setup.y, {}, at::full({batch}, setup.guidance)};
  at::Tensor result = euler_sample(setup.noise, setup.times, [&](const at::Tensor& state, double t, int step) {
    inputs.img = state;
    if (image_reference) {
      inputs.img = state.clone();
      inputs.img[0].copy_((1.0 - t) * setup.reference_latent + t * reference_noise);
    }
    inputs.timesteps = at::full({batch}, t);
    std::optional<SharedAttention> hook;
    if (setup.share) {
      if (setup.observer) setup.observer->begin_step(step, t);
      hook.emplace(*setup.share, knobs_at(*setup.share, step, steps), model.config().axes_dim, shifted_ref_pe,
                   setup.observer);
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
