// Adaptive instance normalisation of attention features: each channel of x is
// moved to the mean and standard deviation the reference has over its tokens.
#pragma once
#include <ATen/ATen.h>

namespace untwist {

// x: [..., L, D], reference: [..., Lr, D] (same leading dims or broadcastable)
// -> [..., L, D]; statistics over the token dim, std from the unbiased
// variance + 1e-5 (as StyleAligned computes it).
at::Tensor adain(const at::Tensor& x, const at::Tensor& reference);

// (1 - alpha) x + alpha adain(x, reference)
at::Tensor blend_adain(const at::Tensor& x, const at::Tensor& reference, double alpha);

}  // namespace untwist
