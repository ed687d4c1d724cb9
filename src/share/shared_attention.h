// Shared attention (METHOD section 4): the first R batch rows are the
// references (R = the number of reference weights, at least 1) and attend to
// themselves only; every target row in a shared block attends to its own
// tokens and to every reference's real image tokens, whose keys are scaled
// per RoPE frequency band (untwisted), left alone (full, stylealigned) or
// rotated to positions past the target's grid (alignedgen). A reference of
// weight w has log w added to its keys' logits (w = 2 doubles its share before
// normalisation, w = 0 removes it). The batch may be several groups of rows
// (classifier-free guidance: [conditional ; negative]), each sharing with its
// own first R rows. Keys a row's mask hides stay hidden.
//
// References on token grids of their own cannot be rows of the targets'
// batch: each step runs them first, one model call per reference whose hook
// records its tokens in a ReferenceBank, then the targets' call takes them
// from the bank. Either way the targets see the same tokens.
#pragma once
#include <ATen/ATen.h>

#include <vector>

#include "model/attention.h"
#include "share/knob_schedule.h"
#include "share/reference_bank.h"
#include "share/share_settings.h"

namespace untwist {

// Sees every shared attention call of a target row (the copying meter of
// analysis/ implements it); `row` is the target's row in the whole batch
// (references first), also when the references run apart from the targets.
// q: [H, L, D] after RoPE; keys: [H, L + L_refs, D],
// the row's own keys then each reference's image keys as the target sees
// them (the first reference's right after the row's own); key_bias: [L +
// L_refs] logit biases (masked keys -inf, weighted references log w), or
// undefined when every key counts alike; `image` is where the row's own image
// tokens sit.
class SharedAttentionObserver {
 public:
  virtual ~SharedAttentionObserver() = default;
  virtual void begin_step(int step, double t) {}
  virtual void observe(const BlockRef& block, int64_t row, const at::Tensor& q, const at::Tensor& keys,
                       const at::Tensor& key_bias, const ImageSpan& image) = 0;
};

// Where a model call's references are.
struct ReferenceSource {
  enum Rows {
    InBatch,   // the first R rows of each group
    Record,    // the call is one reference (`reference`), one row per group: its tokens go to `bank`
    FromBank,  // every row is a target; the references' tokens come from `bank`
  };
  Rows rows = InBatch;
  ReferenceBank* bank = nullptr;
  int64_t reference = 0;
};

class SharedAttention : public AttentionHook {
 public:
  // settings.blocks must be bound to the model (SharePlan::bind). rope: the
  // model's RoPE layout (for the key scales). shift: column_shift's rotation,
  // needed by alignedgen only. observer: optional; it sees the targets of the
  // first group. group_rows: rows per group (0: one group).
  SharedAttention(const ShareSettings& settings, const StepKnobs& knobs, const RopeLayout& rope,
                  at::Tensor shift = {}, SharedAttentionObserver* observer = nullptr, int64_t group_rows = 0,
                  ReferenceSource source = {});

  at::Tensor attend(const AttentionCall& call) const override;

 private:
  int64_t reference_count() const;
  // Reference row `row` (reference `reference` of its group) attends to
  // itself, into `out`; -> its tokens as targets see them.
  ReferenceTokens reference_row(const AttentionCall& call, int64_t row, int64_t reference, at::Tensor& out) const;
  // Target row `row` attends to its own tokens and `refs`, into `out`; the
  // observer sees it when `observed`.
  void target_row(const AttentionCall& call, int64_t row, const ReferenceTokens& refs, at::Tensor& out,
                  bool observed) const;

  ShareSettings settings_;  // a copy: the hook outlives no caller's settings
  bool active_;
  bool weighted_;          // some reference's weight is not 1: keys carry log w
  double adain_;           // strength of the targets' AdaIN toward the first reference
  at::Tensor key_scales_;  // [D] scales of the reference keys, undefined when none
  at::Tensor shift_;
  SharedAttentionObserver* observer_;
  int64_t group_rows_;
  ReferenceSource source_;
};

// [1, 1, 1, D/2, 2, 2]: the rotation that moves a key `cols` positions along
// the layout's column axis. Applied to the reference's keys after their own
// RoPE it puts them past the grid of width `cols`, so that no reference key
// shares a position with any target query (alignedgen).
at::Tensor column_shift(const RopeLayout& rope, int64_t cols);

}  // namespace untwist
