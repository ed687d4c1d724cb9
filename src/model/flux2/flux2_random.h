// Random FLUX.2 weights for a given configuration, under the reference names:
// for benchmarks and tests of shapes no file at hand has (klein 4B's widths).
#pragma once
#include <cstdint>

#include "io/weights.h"
#include "model/flux2/flux2_config.h"

namespace untwist {

// Linear weights ~ N(0, 1/in), no biases (FLUX.2 has none), norm scales 1;
// guidance_in only when config.guidance_embed; reproducible per seed.
TensorMap random_flux2_weights(const Flux2Config& config, uint64_t seed);

}  // namespace untwist
