// Attention for the FLUX blocks, and the one narrow interface through which
// other layers (the shared attention of share/) change it: a block hands its
// attention call, before RoPE, to an AttentionHook.
#pragma once
#include <ATen/ATen.h>

namespace untwist {

enum class BlockKind { Double, Single };

struct BlockRef {
  BlockKind kind;
  int index;
};

// One block's attention operands after QK-norm, before RoPE.
struct AttentionCall {
  BlockRef block;
  at::Tensor q, k, v;  // [B, H, L, D], L = txt_len + image tokens (text first)
  at::Tensor pe;       // [B, 1, L, D/2, 2, 2]
  int64_t txt_len = 0;
};

class AttentionHook {
 public:
  virtual ~AttentionHook() = default;
  // -> [B, L, H*D]
  virtual at::Tensor attend(const AttentionCall& call) const = 0;
};

// softmax(q k^T / sqrt(D)) v, computed in chunks of heads and queries so that
// no more than a bounded score matrix exists at once; softmax in float32.
// q: [B, H, Lq, D], k, v: [B, H, Lk, D] -> [B, H, Lq, D]
at::Tensor scaled_dot_product_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v);

// [B, H, L, D] -> [B, L, H*D]
at::Tensor merge_heads(const at::Tensor& x);

// FLUX's attention: RoPE on q and k, then attention, heads merged. -> [B, L, H*D]
at::Tensor plain_attention(const AttentionCall& call);

}  // namespace untwist
