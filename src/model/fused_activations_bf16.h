// The transformers' activations for bfloat16 tensors on CPUs with
// AVX512-BF16, in one pass: each value widened to float32, the function
// computed there (exp by polynomial), rounded once back to bfloat16. libtorch
// 1.13 has no such kernel: computed through float32 with its own operations
// (activations.h) a GELU of the FLUX.1 MLP width takes about ten passes over
// the values (bench/RESULTS.md, Native bfloat16).
#pragma once
#include <ATen/ATen.h>

namespace untwist {

enum class Activation { GeluTanh, Silu };

// The tanh GELU as x sigmoid(2u): 2u = x (kGeluA + kGeluB x^2), kGeluA =
// 2 sqrt(2 / pi), kGeluB = kGeluA 0.044715 (the float32 path uses them too).
constexpr double kGeluA = 1.5957691216057308, kGeluB = kGeluA * 0.044715;

// Whether fused_bf16_activation runs for x here: this CPU has AVX512-BF16, x
// is a bfloat16 CPU tensor, and no gradient is being recorded for it (the
// kernel has no backward).
bool fused_bf16_activation_runs(const at::Tensor& x);

// GELU with the tanh approximation, computed as x sigmoid(2u) (activations.h),
// or SiLU, x sigmoid(x): a contiguous bfloat16 tensor of x's sizes. Rows of
// x that lie at one stride from each other (a slice of a wider projection's
// output) are read in place; any other layout is copied first.
at::Tensor fused_bf16_activation(const at::Tensor& x, Activation activation);

}  // namespace untwist
