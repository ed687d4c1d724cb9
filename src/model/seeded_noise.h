// Noise drawn as the reference pipelines draw it: torch.randn in bfloat16 from
// a generator seeded with `seed` (libtorch's CPU generator), in float32.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace untwist {

at::Tensor seeded_randn(uint64_t seed, const std::vector<int64_t>& shape);

}  // namespace untwist
