#include "model/seeded_noise.h"

#include <ATen/CPUGeneratorImpl.h>

namespace untwist {

at::Tensor seeded_randn(uint64_t seed, const std::vector<int64_t>& shape) {
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::randn(shape, generator, at::TensorOptions().dtype(at::kBFloat16)).to(at::kFloat);
}

}  // namespace untwist
