// The transformers' activations, computed in float32 whatever x's dtype and
// returned in it, as the reference's kernels do: libtorch 1.13's own
// bfloat16 GELU and SiLU kernels run several times slower than these
// (bench/RESULTS.md, Native bfloat16). Outside autograd they run in pieces
// that stay in cache, with no whole-size float32 temporaries; bfloat16
// tensors on AVX512-BF16 CPUs take one pass instead (fused_activations_bf16.h).
#pragma once
#include <ATen/ATen.h>

namespace untwist {

// GELU with the tanh approximation, 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x +
// 0.044715 x^3), evaluated as the same function x sigmoid(2u): libtorch's
// float32 tanh is four times slower than its sigmoid.
at::Tensor gelu_tanh(const at::Tensor& x);

// SiLU, x sigmoid(x)
at::Tensor silu_float32(const at::Tensor& x);

}  // namespace untwist
