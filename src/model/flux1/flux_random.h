// Random FLUX weights for a given configuration, under the reference names:
// for benchmarks and tests of shapes no real checkpoint has.
#pragma once
#include <cstdint>

#include "io/weights.h"
#include "model/flux1/flux_config.h"

namespace untwist {

// Linear weights ~ N(0, 1/in), biases small, norm scales 1; reproducible per seed.
TensorMap random_flux_weights(const FluxConfig& config, uint64_t seed);

}  // namespace untwist
