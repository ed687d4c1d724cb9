// Attention for the FLUX blocks, and the one narrow interface through which
// other layers (the shared attention of share/) change it: a block hands its
// attention call, before RoPE, to an AttentionHook.
#pragma once
#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "model/rope.h"

namespace untwist {

// A block by its family's group name ("double", "single", "layers", ...) and
// its index within the group.
struct BlockRef {
  std::string group;
  int index = 0;
};

// The block groups a model declares, in forward order.
struct BlockGroup {
  std::string name;
  int64_t count = 0;
};

// Where one batch row's generated-image tokens sit in the joint sequence, and
// their grid (tokens are row-major).
struct ImageSpan {
  int64_t start = 0, length = 0;
  int64_t rows = 0, cols = 0;
};

// One block's attention operands after QK-norm, before RoPE.
struct AttentionCall {
  BlockRef block;
  at::Tensor q, k, v;               // [B, H, L, D]
  at::Tensor pe;                    // [B, 1, L, D/2, 2, 2]
  std::vector<ImageSpan> image;     // per batch row
  const RopeLayout* rope = nullptr;  // the model's RoPE layout
  at::Tensor key_mask;              // [B, L] bool: the keys each row may attend to; undefined: all
};

class AttentionHook {
 public:
  virtual ~AttentionHook() = default;
  // -> [B, L, H*D]
  virtual at::Tensor attend(const AttentionCall& call) const = 0;
};

// softmax(q k^T / sqrt(D)) v, computed in chunks of heads and queries so that
// no more than a bounded score matrix exists at once; softmax in float32.
// bfloat16 on a CPU with AVX512-BF16 (outside autograd): the fused kernel of
// fused_attention_bf16.h instead.
// Off the CPU with libtorch 2.x: libtorch's fused attention instead.
// q: [B, H, Lq, D], k, v: [B, H, Lk, D], key_mask: [B, Lk] bool (true: may be
// attended), float (added to the keys' logits: 0 keeps a key, -inf removes it,
// log w weighs it by w) or undefined (every key) -> [B, H, Lq, D]
at::Tensor scaled_dot_product_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                        const at::Tensor& key_mask = {});

// A key mask as logit biases: float masks as they are, bool ones as 0 / -inf.
at::Tensor key_logit_bias(const at::Tensor& key_mask);

// [B, H, L, D] -> [B, L, H*D]
at::Tensor merge_heads(const at::Tensor& x);

// A block's own attention: RoPE on q and k, then attention over the keys its
// mask allows, heads merged. -> [B, L, H*D]
at::Tensor plain_attention(const AttentionCall& call);

}  // namespace untwist
