// A linear layer whose weight stays as the checkpoint stores it (mapped,
// possibly float8 or quantised) and is converted to x's dtype at each call:
// in place when it already is, otherwise one layer's copy at a time.
#pragma once
#include <ATen/ATen.h>

#include "io/stored_tensor.h"

namespace untwist {

struct Linear {
  StoredTensor weight;  // [out, in]
  at::Tensor bias;      // [out] in the compute dtype, or undefined
  at::Tensor operator()(const at::Tensor& x) const { return at::linear(x, weight.as(x.scalar_type()), bias); }
};

}  // namespace untwist
