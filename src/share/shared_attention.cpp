#include "share/shared_attention.h"

#include <algorithm>
#include <cmath>

#include "model/rope.h"
#include "share/adain.h"
#include "util/errors.h"

namespace untwist {

SharedAttention::SharedAttention(const ShareSettings& settings, const StepKnobs& knobs, const RopeLayout& rope,
                                 at::Tensor shift, SharedAttentionObserver* observer, int64_t group_rows)
    : settings_(settings),
      active_(knobs.active && settings.mode != ShareMode::None),
      shift_(std::move(shift)),
      observer_(observer),
      group_rows_(group_rows) {
  if (settings.mode == ShareMode::Untwisted) {
    key_scales_ = key_scale_vector(rope, knobs.s_hf, knobs.s_lf, settings.beta, settings.axis0);
  }
  for (double weight : settings.reference_weights) {
    if (!(weight >= 0.0) || !std::isfinite(weight)) {
      throw UsageError("reference weights must be finite and not negative, got " + std::to_string(weight));
    }
  }
  if (settings.mode == ShareMode::AlignedGen && !shift_.defined()) {
    throw std::logic_error("alignedgen needs the column shift");
  }
}

std::pair<at::Tensor, at::Tensor> SharedAttention::with_target_adain(const AttentionCall& call, int64_t group,
                                                                     int64_t references) const {
  double strength = settings_.adain;
  if (settings_.mode == ShareMode::StyleAligned || settings_.mode == ShareMode::AlignedGen) strength = 1.0;
  if (strength <= 0.0) return {call.q, call.k};
  const auto image_of = [&](const at::Tensor& x, int64_t row) {  // [H, L_img, D]
    const ImageSpan& span = call.image.at(static_cast<size_t>(row));
    return x[row].narrow(1, span.start, span.length);
  };
  at::Tensor q = call.q.clone(), k = call.k.clone();
  for (int64_t b = 0; b < call.q.size(0); ++b) {
    const int64_t ref = b - b % group;
    if (b - ref < references) continue;
    image_of(q, b).copy_(blend_adain(image_of(call.q, b), image_of(call.q, ref), strength));
    image_of(k, b).copy_(blend_adain(image_of(call.k, b), image_of(call.k, ref), strength));
  }
  return {q, k};
}

at::Tensor SharedAttention::attend(const AttentionCall& call) const {
  const int64_t batch = call.q.size(0);
  const int64_t group = group_rows_ > 0 ? group_rows_ : batch;
  const std::vector<double>& weights = settings_.reference_weights;
  const int64_t references = weights.empty() ? 1 : static_cast<int64_t>(weights.size());
  if (!active_ || !settings_.blocks.shares(call.block) || group <= references) return plain_attention(call);
  if (batch % group != 0) {
    throw std::logic_error("shared attention: a batch of " + std::to_string(batch) + " rows is not groups of " +
                           std::to_string(group));
  }
  const auto mask_of = [&](int64_t row) {  // [1, L] or undefined
    return call.key_mask.defined() ? call.key_mask.narrow(0, row, 1) : at::Tensor();
  };

  const auto [q, k] = with_target_adain(call, group, references);
  const at::Tensor q_rot = apply_rope(q, call.pe);  // [B, H, L, D]
  const at::Tensor k_rot = apply_rope(k, call.pe);
  // Weights other than 1 add log w to their reference's logits.
  const bool weighted = std::any_of(weights.begin(), weights.end(), [](double w) { return w != 1.0; });

  at::Tensor out = at::empty(call.q.sizes(), call.v.options());  // [B, H, L, D]
  for (int64_t first = 0; first < batch; first += group) {
    // Each reference attends to itself; its real image keys and values, as
    // its group's targets see them, go after every target's own.
    std::vector<at::Tensor> ref_keys, ref_values, ref_bias;
    for (int64_t r = first; r < first + references; ++r) {
      out.narrow(0, r, 1).copy_(scaled_dot_product_attention(q_rot.narrow(0, r, 1), k_rot.narrow(0, r, 1),
                                                             call.v.narrow(0, r, 1), mask_of(r)));
      const ImageSpan& span = call.image.at(static_cast<size_t>(r));
      at::Tensor keys = k_rot.narrow(0, r, 1).narrow(2, span.start, span.length);  // [1, H, L_ref, D]
      if (settings_.mode == ShareMode::AlignedGen) keys = apply_rope(keys, shift_.to(keys.device()));
      if (key_scales_.defined()) keys = keys * key_scales_.to(keys.options());
      ref_keys.push_back(keys);
      ref_values.push_back(call.v.narrow(0, r, 1).narrow(2, span.start, span.length));
      if (weighted) {
        ref_bias.push_back(at::full({1, span.length}, std::log(weights[static_cast<size_t>(r - first)]),
                                    at::TensorOptions().dtype(at::kFloat).device(call.q.device())));
      }
    }
    const at::Tensor shared_keys = at::cat(ref_keys, 2), shared_values = at::cat(ref_values, 2);
    const at::Tensor shared_bias = weighted ? at::cat(ref_bias, 1) : at::Tensor();  // [1, L_refs]
    const int64_t shared = shared_keys.size(2);
    for (int64_t b = first + references; b < first + group; ++b) {
      const at::Tensor keys = at::cat({k_rot.narrow(0, b, 1), shared_keys}, 2);  // [1, H, L + L_refs, D]
      const at::Tensor values = at::cat({call.v.narrow(0, b, 1), shared_values}, 2);
      at::Tensor mask = mask_of(b);  // [1, L + L_refs]: bool, or logit biases when weighted
      if (weighted) {
        const at::Tensor own = mask.defined() ? key_logit_bias(mask)
                                              : at::zeros({1, call.k.size(2)}, shared_bias.options());
        mask = at::cat({own, shared_bias}, 1);
      } else if (mask.defined()) {
        mask = at::cat({mask, at::ones({1, shared}, mask.options())}, 1);
      }
      out.narrow(0, b, 1).copy_(scaled_dot_product_attention(q_rot.narrow(0, b, 1), keys, values, mask));
      if (observer_ && first == 0) {  // observers work on the CPU
        observer_->observe(call.block, b, q_rot[b].cpu(), keys[0].cpu(),
                           mask.defined() ? key_logit_bias(mask[0]).cpu() : at::Tensor(),
                           call.image.at(static_cast<size_t>(b)));
      }
    }
  }
  return merge_heads(out);  // [B, L, H*D]
}

at::Tensor column_shift(const RopeLayout& rope, int64_t cols) {
  at::Tensor ids = at::zeros({1, 1, static_cast<int64_t>(rope.axes_dim.size())}, at::kFloat);
  ids.select(2, rope.axis(AxisRole::Column)).fill_(static_cast<double>(cols));
  return rope_table(ids, rope.axes_dim, rope.theta);  // [1, 1, 1, D/2, 2, 2]
}

}  // namespace untwist
