#include "sample/dit_sampler.h"

#include <algorithm>
#include <cmath>
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

at::Tensor reference_grid_ids(const DiffusionTransformer& model, TokenGrid reference, TokenGrid targets,
                              ReferencePositions positions) {
  return place_reference_ids(model.image_ids(1, reference.rows, reference.cols)[0], model.rope(), reference, targets,
                             positions);
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
                                     SharedAttentionObserver* observer, int64_t group_rows,
                                     ReferenceSource source, const at::Tensor& reference_ids) {
  at::Tensor shift;
  if (bound.mode == ShareMode::AlignedGen) {
    int64_t columns = token_grid(img_ids, model.rope()).second;
    if (reference_ids.defined()) {  // a reference reaching left of the targets moves further
      const double leftmost = reference_ids.select(-1, model.rope().axis(AxisRole::Column)).min().item<double>();
      columns += static_cast<int64_t>(std::ceil(std::max(0.0, -leftmost)));
    }
    shift = column_shift(model.rope(), columns);
  }
  return SharedAttention(bound, knobs_at(bound, step, steps), model.rope(), shift, observer, group_rows, source);
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
  if (in.y.defined() != guidance.y.defined() || (in.y.defined() && !guidance.y.sizes().equals(in.y.sizes()))) {
    throw InputError("classifier-free guidance needs a negative pooled vector exactly where the model takes one, of " +
                     (in.y.defined() ? shape_string(in.y.sizes().vec()) : std::string("none")) + ", got " +
                     (guidance.y.defined() ? shape_string(guidance.y.sizes().vec()) : "none"));
  }
  const auto twice = [](const at::Tensor& x) { return x.defined() ? at::cat({x, x}, 0) : x; };
  DitInputs doubled = in;
  std::tie(doubled.txt, doubled.txt_mask) = stack_texts(in.txt, in.txt_mask, guidance.txt, guidance.txt_mask);
  doubled.txt_ids = model.text_ids(2 * batch, doubled.txt.size(1));
  if (in.y.defined()) doubled.y = at::cat({in.y, guidance.y}, 0);
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

// The rows `index` of every per-row tensor of `in`.
DitInputs rows_of(const DitInputs& in, const at::Tensor& index) {
  DitInputs rows;
  const auto pick = [&](const at::Tensor& x) { return x.defined() ? x.index_select(0, index.to(x.device())) : x; };
  rows.img = pick(in.img);
  rows.img_ids = pick(in.img_ids);
  rows.txt = pick(in.txt);
  rows.txt_mask = pick(in.txt_mask);
  rows.txt_ids = pick(in.txt_ids);
  rows.y = pick(in.y);
  rows.timesteps = pick(in.timesteps);
  rows.guidance = pick(in.guidance);
  rows.cond = pick(in.cond);
  rows.cond_ids = pick(in.cond_ids);
  return rows;
}

// One model call's inputs (img and timesteps set each step) and rotations.
struct ModelCall {
  DitInputs inputs;
  at::Tensor pe;
};

ModelCall model_call(const DiffusionTransformer& model, DitInputs inputs) {
  const at::Tensor pe = model.position_table(inputs);
  return {std::move(inputs), pe};
}

// The calls of a step whose references are sampled apart from the targets:
// per reference one call (one row, two under guidance: conditional and
// negative), then one of the targets; [0] without guidance, [1] with it.
struct ApartCalls {
  std::vector<ModelCall> references[2];
  ModelCall targets[2];
  at::Tensor reference_ids;  // every reference's ids, joined (alignedgen's shift)
};

ApartCalls apart_calls(const DiffusionTransformer& model, const SamplingSetup& setup, const DitInputs& plain,
                       const DitInputs& doubled, int64_t references) {
  const int64_t batch = setup.noise.size(0);
  ApartCalls calls;
  std::vector<at::Tensor> all_ids;
  for (int guided = 0; guided < 2; ++guided) {
    if (guided && !doubled.txt.defined()) break;
    const DitInputs& in = guided ? doubled : plain;
    for (int64_t r = 0; r < references; ++r) {
      const at::Tensor index = guided ? at::tensor({r, r + batch}) : at::tensor({r});
      DitInputs rows = rows_of(in, index);
      const auto entry = static_cast<size_t>(r);
      if (entry < setup.reference_ids.size() && setup.reference_ids[entry].defined()) {
        const at::Tensor& ids = setup.reference_ids[entry];  // [L_r, A]
        rows.img_ids = ids.unsqueeze(0).expand({index.size(0), -1, -1}).to(in.img_ids.options()).contiguous();
        rows.img = at::zeros({index.size(0), ids.size(0), in.img.size(2)}, in.img.options());  // its token count
      }
      if (!guided) all_ids.push_back(rows.img_ids[0]);
      calls.references[guided].push_back(model_call(model, rows));
    }
    at::Tensor targets = at::arange(references, batch, at::kLong);
    if (guided) targets = at::cat({targets, targets + batch});
    calls.targets[guided] = model_call(model, rows_of(in, targets));
  }
  calls.reference_ids = at::cat(all_ids, 0);
  return calls;
}

// InputError or DataError unless the setup's reference paths and grids fit
// its batch of `axes`-axis ids and its `reference_rows` references (0: no
// sharing) -> whether any reference has a grid of its own.
bool check_references(const SamplingSetup& setup, int64_t axes, int64_t reference_rows) {
  const int64_t batch = setup.noise.size(0);
  const std::vector<at::Tensor>& paths = setup.reference_paths;
  const std::vector<at::Tensor>& grids = setup.reference_ids;
  if (static_cast<int64_t>(paths.size()) > batch) {
    throw InputError(std::to_string(paths.size()) + " reference paths for a batch of " + std::to_string(batch));
  }
  if (static_cast<int64_t>(grids.size()) > batch) {
    throw InputError(std::to_string(grids.size()) + " reference grids for a batch of " + std::to_string(batch));
  }
  bool apart = false;
  for (size_t r = 0; r < std::max(paths.size(), grids.size()); ++r) {
    const at::Tensor ids = r < grids.size() ? grids[r] : at::Tensor();
    const at::Tensor path = r < paths.size() ? paths[r] : at::Tensor();
    apart = apart || ids.defined();
    if (ids.defined() && !path.defined()) {
      throw InputError("reference " + std::to_string(r) + " on a grid of its own needs its path (an image reference)");
    }
    if (ids.defined() && (ids.dim() != 2 || ids.size(1) != axes)) {
      throw InputError("reference " + std::to_string(r) + "'s ids are " + shape_string(ids.sizes().vec()) +
                       ", not [L, " + std::to_string(axes) + "]");
    }
    if (ids.defined() && static_cast<int64_t>(r) >= reference_rows && reference_rows > 0) {
      throw InputError("row " + std::to_string(r) + " has a grid of its own but the share settings count " +
                       std::to_string(reference_rows) + " reference(s): give one weight per reference");
    }
    if (!path.defined()) continue;
    const std::vector<int64_t> shape = {static_cast<int64_t>(setup.times.size()),
                                        ids.defined() ? ids.size(0) : setup.noise.size(1), setup.noise.size(2)};
    if (path.sizes().vec() != shape) {
      throw DataError("reference path has shape " + shape_string(path.sizes().vec()) + ", expected " +
                      shape_string(shape) + " (one image's tokens at every time of the schedule)");
    }
  }
  if (apart && reference_rows == 0) {
    throw InputError("references on grids of their own are for sharing: give share settings");
  }
  if (apart && reference_rows > batch) {
    throw InputError(std::to_string(reference_rows) + " references for a batch of " + std::to_string(batch));
  }
  return apart;
}

}  // namespace

at::Tensor sample_dit(const DiffusionTransformer& model, const SamplingSetup& setup) {
  const int64_t batch = setup.noise.size(0);
  const int steps = static_cast<int>(setup.times.size()) - 1;
  DitInputs inputs = setup.conditioning;
  inputs.img = setup.noise;
  const at::Tensor pe = model.position_table(inputs);
  const std::vector<at::Tensor>& references = setup.reference_paths;
  const auto own_ids = [&](size_t r) {  // reference r's ids on a grid of its own, or undefined
    return r < setup.reference_ids.size() ? setup.reference_ids[r] : at::Tensor();
  };
  std::optional<ShareSettings> share;
  if (setup.share) share = bind_to(*setup.share, model);
  const int64_t reference_rows =
      setup.share ? std::max<int64_t>(1, static_cast<int64_t>(setup.share->reference_weights.size())) : 0;
  const bool apart = check_references(setup, inputs.img_ids.size(2), reference_rows);
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
  const ApartCalls calls = apart ? apart_calls(model, setup, inputs, doubled, reference_rows) : ApartCalls();

  // The velocity of `call` at time t for its rows `state` [N, L, C] (twice
  // over, conditional then negative, when guided), guided to [N, L, C].
  const auto velocity_of = [&](ModelCall& call, const at::Tensor& state, double t, int step, bool guided,
                               const AttentionHook* hook, bool probed) {
    call.inputs.img = guided ? at::cat({state, state}, 0) : state;
    call.inputs.timesteps = at::full({call.inputs.img.size(0)}, t);
    at::Tensor velocity = probed ? model.forward_probed(call.inputs, call.pe, hook, setup.probe(step))
                                 : model.forward(call.inputs, call.pe, hook);
    require_finite_velocity(velocity, model, call.inputs, call.pe, hook, step, steps);
    const int64_t rows = state.size(0);
    return guided ? guided_velocity(velocity.narrow(0, 0, rows), velocity.narrow(0, rows, rows), guidance) : velocity;
  };
  ModelCall whole{inputs, pe}, whole_guided{doubled, doubled_pe};

  at::Tensor result = euler_sample(setup.noise, setup.times, [&](const at::Tensor& state, double t, int step) {
    at::Tensor img = state;
    for (size_t r = 0; r < references.size(); ++r) {
      if (!references[r].defined() || own_ids(r).defined()) continue;
      if (img.is_same(state)) img = state.clone();
      img[static_cast<int64_t>(r)].copy_(references[r][step]);
    }
    const bool guided = guidance.scale > 1.0 && 1.0 - t <= guidance.truncation;
    const bool probed = static_cast<bool>(setup.probe);
    if (share && setup.observer) setup.observer->begin_step(step, t);
    if (!apart) {
      std::optional<SharedAttention> hook;
      if (share) hook.emplace(shared_attention_for(*share, model, inputs.img_ids, step, steps, setup.observer, batch));
      const at::Tensor velocity = velocity_of(guided ? whole_guided : whole, img, t, step, guided,
                                              hook ? &*hook : nullptr, probed);
      if (setup.on_step) setup.on_step(step);
      return velocity;
    }
    // Each reference alone, leaving its tokens in the bank; then the targets.
    ReferenceBank bank;
    at::Tensor velocity = at::zeros(state.sizes(), state.options().dtype(at::kFloat));
    for (int64_t r = 0; r < reference_rows; ++r) {
      const auto entry = static_cast<size_t>(r);
      const bool follows = entry < references.size() && references[entry].defined();
      const at::Tensor reference = follows ? references[entry][step].unsqueeze(0) : img.narrow(0, r, 1);
      const SharedAttention hook = shared_attention_for(*share, model, inputs.img_ids, step, steps, nullptr, 1,
                                                        {ReferenceSource::Record, &bank, r}, calls.reference_ids);
      ModelCall call = calls.references[guided ? 1 : 0][entry];
      const at::Tensor v = velocity_of(call, reference, t, step, guided, &hook, false);
      if (!follows) velocity.narrow(0, r, 1).copy_(v);
    }
    if (reference_rows < batch) {
      const SharedAttention hook =
          shared_attention_for(*share, model, inputs.img_ids, step, steps, setup.observer, batch - reference_rows,
                               {ReferenceSource::FromBank, &bank, 0}, calls.reference_ids);
      ModelCall call = calls.targets[guided ? 1 : 0];
      velocity.narrow(0, reference_rows, batch - reference_rows)
          .copy_(velocity_of(call, img.narrow(0, reference_rows, batch - reference_rows), t, step, guided, &hook,
                             probed));
    }
    if (setup.on_step) setup.on_step(step);
    return velocity;
  });
  for (size_t r = 0; r < references.size(); ++r) {
    if (!references[r].defined()) continue;
    if (own_ids(r).defined()) {
      result[static_cast<int64_t>(r)].zero_();
    } else {
      result[static_cast<int64_t>(r)].copy_(references[r][-1]);
    }
  }
  return result;
}

}  // namespace untwist
