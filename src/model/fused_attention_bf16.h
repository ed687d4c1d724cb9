// Attention for bfloat16 operands on CPUs with AVX512-BF16, fused: scores,
// softmax and the value product a block of 6 queries by 64 keys at a time
// in registers (the online softmax of flash attention), so that no score
// matrix is written. libtorch 1.13 has no such kernel on the CPU: there the
// score products (inner dimension 64 or 128) and its softmax cost about
// three times their matmul work (bench/RESULTS.md, Native bfloat16).
// Products accumulate in float32 (AVX512-BF16's dot products), the softmax
// is computed in float32, and the weights are rounded to bfloat16 for the
// value product, as libtorch's bfloat16 path rounds them.
#pragma once
#include <ATen/ATen.h>

namespace untwist {

// Whether fused_bf16_attention runs for these operands here: this CPU has
// AVX512-BF16, q, k and v are bfloat16 CPU tensors with a head width of 32,
// 64 or 128 (the values' the same), and no gradient is being recorded for
// them (the kernel has no backward).
bool fused_bf16_attention_runs(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v);

// softmax(q k^T scale + bias) v for each of P independent problems.
// q: [P, Lq, D], k and v: [P, Lk, D], bfloat16; bias: [P, Lk] float32 added
// to the keys' logits (-inf removes a key) or undefined -> [P, Lq, D]
// bfloat16. A query whose keys are all removed gets zeros.
at::Tensor fused_bf16_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                const at::Tensor& bias, double scale);

}  // namespace untwist
