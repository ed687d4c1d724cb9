#include "share/shared_attention.h"

#include <algorithm>
#include <cmath>

#include "model/rope.h"
#include "share/adain.h"
#include "util/errors.h"

namespace untwist {

namespace {

at::Tensor row_of(const at::Tensor& x, int64_t row) { return x.narrow(0, row, 1); }

// [1, 1, L, D/2, 2, 2] the row's rotations (a table of one row serves all).
at::Tensor rotations_of(const AttentionCall& call, int64_t row) {
  return call.pe.size(0) == 1 ? call.pe : row_of(call.pe, row);
}

// [1, L] or undefined
at::Tensor mask_of(const AttentionCall& call, int64_t row) {
  return call.key_mask.defined() ? row_of(call.key_mask, row) : at::Tensor();
}

// [H, L_img, D] the row's image tokens
at::Tensor image_of(const AttentionCall& call, const at::Tensor& x, int64_t row) {
  const ImageSpan& span = call.image.at(static_cast<size_t>(row));
  return x[row].narrow(1, span.start, span.length);
}

}  // namespace

SharedAttention::SharedAttention(const ShareSettings& settings, const StepKnobs& knobs, const RopeLayout& rope,
                                 at::Tensor shift, SharedAttentionObserver* observer, int64_t group_rows,
                                 ReferenceSource source)
    : settings_(settings),
      active_(knobs.active && settings.mode != ShareMode::None),
      weighted_(std::any_of(settings.reference_weights.begin(), settings.reference_weights.end(),
                            [](double w) { return w != 1.0; })),
      adain_(settings.mode == ShareMode::StyleAligned || settings.mode == ShareMode::AlignedGen ? 1.0
                                                                                               : settings.adain),
      shift_(std::move(shift)),
      observer_(observer),
      group_rows_(group_rows),
      source_(source) {
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
  if (source_.rows != ReferenceSource::InBatch && !source_.bank) {
    throw std::logic_error("references apart from the batch need a reference bank");
  }
  if (source_.reference < 0 || source_.reference >= reference_count()) {
    throw std::logic_error("reference " + std::to_string(source_.reference) + " of " +
                           std::to_string(reference_count()));
  }
}

int64_t SharedAttention::reference_count() const {
  return settings_.reference_weights.empty() ? 1 : static_cast<int64_t>(settings_.reference_weights.size());
}

ReferenceTokens SharedAttention::reference_row(const AttentionCall& call, int64_t row, int64_t reference,
                                               at::Tensor& out) const {
  const at::Tensor rotations = rotations_of(call, row);
  const at::Tensor q = apply_rope(row_of(call.q, row), rotations);  // [1, H, L, D]
  const at::Tensor k = apply_rope(row_of(call.k, row), rotations);
  out.narrow(0, row, 1).copy_(scaled_dot_product_attention(q, k, row_of(call.v, row), mask_of(call, row)));
  const ImageSpan& span = call.image.at(static_cast<size_t>(row));
  ReferenceTokens tokens;
  tokens.keys = k.narrow(2, span.start, span.length);  // [1, H, L_ref, D]
  if (settings_.mode == ShareMode::AlignedGen) tokens.keys = apply_rope(tokens.keys, shift_.to(k.device()));
  if (key_scales_.defined()) tokens.keys = tokens.keys * key_scales_.to(k.options());
  tokens.values = row_of(call.v, row).narrow(2, span.start, span.length);
  if (weighted_) {
    tokens.bias = at::full({1, span.length}, std::log(settings_.reference_weights.at(static_cast<size_t>(reference))),
                           at::TensorOptions().dtype(at::kFloat).device(call.q.device()));
  }
  if (reference == 0 && adain_ > 0.0) {
    tokens.first_q = image_of(call, call.q, row);
    tokens.first_k = image_of(call, call.k, row);
  }
  return tokens;
}

void SharedAttention::target_row(const AttentionCall& call, int64_t row, const ReferenceTokens& refs, at::Tensor& out,
                                 bool observed) const {
  at::Tensor q = row_of(call.q, row), k = row_of(call.k, row);  // [1, H, L, D]
  if (adain_ > 0.0) {  // image tokens moved toward the first reference's statistics, before RoPE
    if (!refs.first_q.defined()) throw std::logic_error("target AdaIN without the first reference's tokens");
    const ImageSpan& span = call.image.at(static_cast<size_t>(row));
    q = q.clone();
    k = k.clone();
    q[0].narrow(1, span.start, span.length).copy_(blend_adain(image_of(call, call.q, row), refs.first_q, adain_));
    k[0].narrow(1, span.start, span.length).copy_(blend_adain(image_of(call, call.k, row), refs.first_k, adain_));
  }
  const at::Tensor rotations = rotations_of(call, row);
  q = apply_rope(q, rotations);
  const at::Tensor keys = at::cat({apply_rope(k, rotations), refs.keys}, 2);  // [1, H, L + L_refs, D]
  const at::Tensor values = at::cat({row_of(call.v, row), refs.values}, 2);
  at::Tensor mask = mask_of(call, row);  // [1, L + L_refs]: bool, or logit biases when weighted
  if (refs.bias.defined()) {
    const at::Tensor own = mask.defined() ? key_logit_bias(mask) : at::zeros({1, call.k.size(2)}, refs.bias.options());
    mask = at::cat({own, refs.bias}, 1);
  } else if (mask.defined()) {
    mask = at::cat({mask, at::ones({1, refs.keys.size(2)}, mask.options())}, 1);
  }
  out.narrow(0, row, 1).copy_(scaled_dot_product_attention(q, keys, values, mask));
  if (observer_ && observed) {  // observers work on the CPU; rows as the batch numbers them
    const int64_t batch_row = source_.rows == ReferenceSource::FromBank ? row + reference_count() : row;
    observer_->observe(call.block, batch_row, q[0].cpu(), keys[0].cpu(),
                       mask.defined() ? key_logit_bias(mask[0]).cpu() : at::Tensor(),
                       call.image.at(static_cast<size_t>(row)));
  }
}

at::Tensor SharedAttention::attend(const AttentionCall& call) const {
  const int64_t batch = call.q.size(0);
  const int64_t references = reference_count();
  const bool record = source_.rows == ReferenceSource::Record;
  const int64_t group = record ? 1 : (group_rows_ > 0 ? group_rows_ : batch);
  if (!active_ || !settings_.blocks.shares(call.block)) return plain_attention(call);
  if (source_.rows == ReferenceSource::InBatch && group <= references) return plain_attention(call);
  if (batch % group != 0) {
    throw std::logic_error("shared attention: a batch of " + std::to_string(batch) + " rows is not groups of " +
                           std::to_string(group));
  }
  at::Tensor out = at::empty(call.q.sizes(), call.v.options());  // [B, H, L, D]
  for (int64_t first = 0, index = 0; first < batch; first += group, ++index) {
    if (record) {
      source_.bank->store(call.block, index, source_.reference, reference_row(call, first, source_.reference, out));
      continue;
    }
    ReferenceTokens refs;
    int64_t targets = first;
    if (source_.rows == ReferenceSource::FromBank) {
      refs = source_.bank->tokens(call.block, index);
    } else {  // each reference attends to itself; its tokens go after every target's own
      for (int64_t r = 0; r < references; ++r) {
        const ReferenceTokens tokens = reference_row(call, first + r, r, out);
        refs = r == 0 ? tokens : refs.then(tokens);
      }
      targets = first + references;
    }
    for (int64_t b = targets; b < first + group; ++b) target_row(call, b, refs, out, index == 0);
  }
  return merge_heads(out);  // [B, L, H*D]
}

at::Tensor column_shift(const RopeLayout& rope, int64_t cols) {
  at::Tensor ids = at::zeros({1, 1, static_cast<int64_t>(rope.axes_dim.size())}, at::kFloat);
  ids.select(2, rope.axis(AxisRole::Column)).fill_(static_cast<double>(cols));
  return rope_table(ids, rope.axes_dim, rope.theta);  // [1, 1, 1, D/2, 2, 2]
}

}  // namespace untwist
