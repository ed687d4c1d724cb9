#include "sample/dit_sampler.h"

#include <optional>
#include <tuple>
#include <utility>

#include "sample/euler.h"
#include "share/knob_schedule.h"
#include "util/errors.h"

namespace untwist {

void require_finite_velocity(const at::Tensor& velocity, const DiffusionTransformer& model, const DitInputs& inputs,
                             const at::Tensor& pe, const AttentionHook* hook, int step, int steps) {
  if (at::isfinite(velocity).all().item<bool>()) return;
  std::string where = "the model's output";
  if (const auto site = locate_non_finite(model, inputs, pe, hook)) {
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

at::Tensor noised_path(const at::Tensor& latent, const at::Tensor& noise, const std::vector<double>& times) {
  std::vector<at::Tensor> states;
  for (double t : times) states.push_back((1.0 - t) * latent + t * noise);
  return at::stack(states);
}

ShareSettings bind_to(const ShareSettings& settings, const DiffusionTransformer& model) {
  ShareSettings bound = settings;
  bound.blocks = settings.blocks.bind(model.block_groups(), model.default_shared_blocks());
  return bound;
}

SharedAttention shared_attention_for(const ShareSettings& bound, const DiffusionTransformer& model,
                                     const at::Tensor& img_ids, int step, int steps,
                                     SharedAttentionObserver* observer, int64_t group_rows) {
  at::Tensor shift;
  if (bound.mode == ShareMode::AlignedGen) shift = column_shift(model.rope(), token_grid(img_ids, model.rope()).second);
  return SharedAttention(bound, knobs_at(bound, step, steps), model.rope(), shift, observer, group_rows);
}

namespace {

// [a ; b] of two texts of [B, L, C] with their real-token masks (undefined:
// all real), the shorter one padded: -> text [2B, L_max, C], mask [2B, L_max].
std::pair<at::Tensor, at::Tensor> stack_texts(const at::Tensor& a, const at::Tensor& a_mask, const at::Tensor& b,
                                              const at::Tensor& b_mask) {
  const int64_t length = std::max(a.size(1), b.size(1));
  std::vector<at::Tensor> texts, masks;
  for (const auto& [text, mask] : {std::pair{a, a_mask}, {b, b_mask}}) {
    const int64_t pad = length - text.size(1);
    const at::Tensor real = mask.defined() ? mask.to(at::kBool)
                                           : at::ones({text.size(0), text.size(1)}, text.options().dtype(at::kBool));
    texts.push_back(at::constant_pad_nd(text, {0, 0, 0, pad}));  // [B, L_max, C]
    masks.push_back(at::constant_pad_nd(real, {0, pad}));        // [B, L_max]
  }
  return {at::cat(texts, 0), at::cat(masks, 0)};
}

// The conditioning of the doubled batch: the rows, then the same rows with
// the negative text.
DitInputs with_negative_rows(const DitInputs& in, const ClassifierFreeGuidance& guidance,
                             const DiffusionTransformer& model) {
  const int64_t batch = in.txt.size(0);
  if (!guidance.txt.defined() || guidance.txt.size(0) != batch || guidance.txt.dim() != 3) {
    throw InputError("classifier-free guidance needs negative text states of [" + std::to_string(batch) +
                     ", L, C], got " + (guidance.txt.defined() ? shape_string(guidance.txt.sizes().vec()) : "none"));
  }
  if (in.y.defined()) throw UsageError("classifier-free guidance with a pooled text vector is not supported");
  const auto twice = [](const at::Tensor& x) { return x.defined() ? at::cat({x, x}, 0) : x; };
  DitInputs doubled = in;
  std::tie(doubled.txt, doubled.txt_mask) = stack_texts(in.txt, in.txt_mask, guidance.txt, guidance.txt_mask);
  doubled.txt_ids = model.text_ids(2 * batch, doubled.txt.size(1));
  doubled.img_ids = twice(in.img_ids);
  doubled.guidance = twice(in.guidance);
  doubled.cond = twice(in.cond);
  doubled.cond_ids = twice(in.cond_ids);
  return doubled;
}

// cond + scale (cond - negative), each row cut to `normalization` times its
// conditional norm when that is > 0 and the guided row is longer.
at::Tensor guided_velocity(const at::Tensor& cond, const at::Tensor& negative, const ClassifierFreeGuidance& guidance) {
  at::Tensor velocity = cond + guidance.scale * (cond - negative);
  if (guidance.normalization > 0) {
    const at::Tensor limit = cond.flatten(1).norm(2, 1) * guidance.normalization;  // [B]
    const at::Tensor norm = velocity.flatten(1).norm(2, 1);
    const at::Tensor factor = at::where(norm > limit, limit / norm, at::ones_like(norm));
    velocity = velocity * factor.view({-1, 1, 1});
  }
  return velocity;
}

}  // namespace

at::Tensor sample_dit(const DiffusionTransformer& model, const SamplingSetup& setup) {
  const int64_t batch = setup.noise.size(0);
  const int steps = static_cast<int>(setup.times.size()) - 1;
  DitInputs inputs = setup.conditioning;
  inputs.img = setup.noise;
  const at::Tensor pe = model.position_table(inputs);
  const std::vector<at::Tensor>& references = setup.reference_paths;
  if (static_cast<int64_t>(references.size()) > batch) {
    throw InputError(std::to_string(references.size()) + " reference paths for a batch of " + std::to_string(batch));
  }
  std::vector<int64_t> path_shape = {static_cast<int64_t>(setup.times.size())};
  for (int64_t extent : setup.noise[0].sizes()) path_shape.push_back(extent);
  for (const at::Tensor& path : references) {
    if (path.defined() && path.sizes().vec() != path_shape) {
      throw DataError("reference path has shape " + shape_string(path.sizes().vec()) + ", expected " +
                      shape_string(path_shape) + " (one image's tokens at every time of the schedule)");
    }
  }
  std::optional<ShareSettings> share;
  if (setup.share) share = bind_to(*setup.share, model);
  if (model.guidance_embedded() && !inputs.guidance.defined()) {
    throw InputError("a guidance-embedded model needs a guidance value");
  }
  const ClassifierFreeGuidance& guidance = setup.guidance;
  DitInputs doubled;
  at::Tensor doubled_pe;
  if (guidance.scale > 1.0) {
    doubled = with_negative_rows(inputs, guidance, model);
    doubled.img = at::cat({setup.noise, setup.noise}, 0);
    doubled_pe = model.position_table(doubled);
  }

  at::Tensor result = euler_sample(setup.noise, setup.times, [&](const at::Tensor& state, double t, int step) {
    inputs.img = state;
    for (size_t r = 0; r < references.size(); ++r) {
      if (!references[r].defined()) continue;
      if (inputs.img.is_same(state)) inputs.img = state.clone();
      inputs.img[static_cast<int64_t>(r)].copy_(references[r][step]);
    }
    inputs.timesteps = at::full({batch}, t);
    const bool guided = guidance.scale > 1.0 && 1.0 - t <= guidance.truncation;
    if (guided) {
      doubled.img = at::cat({inputs.img, inputs.img}, 0);
      doubled.timesteps = at::full({2 * batch}, t);
    }
    const DitInputs& call = guided ? doubled : inputs;
    const at::Tensor& call_pe = guided ? doubled_pe : pe;
    std::optional<SharedAttention> hook;
    if (share) {
      if (setup.observer) setup.observer->begin_step(step, t);
      hook.emplace(shared_attention_for(*share, model, call.img_ids, step, steps, setup.observer, batch));
    }
    const AttentionHook* attention = hook ? &*hook : nullptr;
    at::Tensor velocity = setup.probe ? model.forward_probed(call, call_pe, attention, setup.probe(step))
                                      : model.forward(call, call_pe, attention);
    require_finite_velocity(velocity, model, call, call_pe, attention, step, steps);
    if (guided) velocity = guided_velocity(velocity.narrow(0, 0, batch), velocity.narrow(0, batch, batch), guidance);
    if (setup.on_step) setup.on_step(step);
    return velocity;
  });
  for (size_t r = 0; r < references.size(); ++r) {
    if (references[r].defined()) result[static_cast<int64_t>(r)].copy_(references[r][-1]);
  }
  return result;
}

}  // namespace untwist
