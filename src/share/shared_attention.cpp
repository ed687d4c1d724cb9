#include "share/shared_attention.h"

#include "model/rope.h"
#include "share/adain.h"
#include "util/errors.h"

namespace untwist {

SharedAttention::SharedAttention(const ShareSettings& settings, const StepKnobs& knobs, const RopeLayout& rope,
                                 at::Tensor shifted_ref_pe, SharedAttentionObserver* observer)
    : settings_(settings),
      active_(knobs.active && settings.mode != ShareMode::None),
      shifted_ref_pe_(std::move(shifted_ref_pe)),
      observer_(observer) {
  if (settings.mode == ShareMode::Untwisted) {
    key_scales_ = key_scale_vector(rope, knobs.s_hf, knobs.s_lf, settings.beta, settings.axis0);
  }
  if (settings.mode == ShareMode::AlignedGen && !shifted_ref_pe_.defined()) {
    throw std::logic_error("alignedgen needs the shifted reference positions");
  }
}

at::Tensor SharedAttention::attend(const AttentionCall& call) const {
  if (!active_ || !settings_.blocks.shares(call.block) || call.q.size(0) < 2) return plain_attention(call);
  const int64_t batch = call.q.size(0);
  const ImageSpan& ref = call.image.at(0);
  const auto image_of = [&](const at::Tensor& x, int64_t row) {  // [H, L_img, D]
    const ImageSpan& span = call.image.at(static_cast<size_t>(row));
    return x[row].narrow(1, span.start, span.length);
  };

  // Target image-token queries and keys move toward the reference's statistics
  // (before RoPE) in the AdaIN-based modes.
  double adain_strength = settings_.adain;
  if (settings_.mode == ShareMode::StyleAligned || settings_.mode == ShareMode::AlignedGen) adain_strength = 1.0;
  at::Tensor q = call.q, k = call.k;
  if (adain_strength > 0.0) {
    q = q.clone();
    k = k.clone();
    const at::Tensor ref_q = image_of(call.q, 0), ref_k = image_of(call.k, 0);  // [H, L_ref, D]
    for (int64_t b = 1; b < batch; ++b) {
      image_of(q, b).copy_(blend_adain(image_of(call.q, b), ref_q, adain_strength));
      image_of(k, b).copy_(blend_adain(image_of(call.k, b), ref_k, adain_strength));
    }
  }
  const at::Tensor q_rot = apply_rope(q, call.pe);  // [B, H, L, D]
  const at::Tensor k_rot = apply_rope(k, call.pe);

  // The reference's image keys and values as every target sees them.
  at::Tensor ref_keys = settings_.mode == ShareMode::AlignedGen
                            ? apply_rope(call.k.narrow(0, 0, 1).narrow(2, ref.start, ref.length),
                                         shifted_ref_pe_.to(call.k.device()))
                            : k_rot.narrow(0, 0, 1).narrow(2, ref.start, ref.length);  // [1, H, L_ref, D]
  if (key_scales_.defined()) ref_keys = ref_keys * key_scales_.to(ref_keys.options());
  const at::Tensor ref_values = call.v.narrow(0, 0, 1).narrow(2, ref.start, ref.length);

  at::Tensor out = at::empty(call.q.sizes(), call.v.options());  // [B, H, L, D]
  out.narrow(0, 0, 1).copy_(scaled_dot_product_attention(q_rot.narrow(0, 0, 1), k_rot.narrow(0, 0, 1),
                                                         call.v.narrow(0, 0, 1)));
  for (int64_t b = 1; b < batch; ++b) {
    const at::Tensor keys = at::cat({k_rot.narrow(0, b, 1), ref_keys}, 2);  // [1, H, L + L_ref, D]
    const at::Tensor values = at::cat({call.v.narrow(0, b, 1), ref_values}, 2);
    out.narrow(0, b, 1).copy_(scaled_dot_product_attention(q_rot.narrow(0, b, 1), keys, values));
    if (observer_) {  // observers work on the CPU
      observer_->observe(call.block, b, q_rot[b].cpu(), keys[0].cpu(), call.image.at(static_cast<size_t>(b)));
    }
  }
  return merge_heads(out);  // [B, L, H*D]
}

at::Tensor shifted_reference_positions(const at::Tensor& ref_img_ids, const RopeLayout& rope, int64_t cols) {
  at::Tensor ids = ref_img_ids.to(at::kFloat).clone().unsqueeze(0);  // [1, L_ref, A]
  ids.select(2, rope.axis(AxisRole::Column)).add_(static_cast<double>(cols));
  return rope_table(ids, rope.axes_dim, rope.theta);
}

}  // namespace untwist
