// Random Z-Image transformer weights for a given configuration, under the
// reference names: for benchmarks of shapes no file at hand has (Z-Image 6B's
// widths).
#pragma once
#include <cstdint>

#include "io/weights.h"
#include "model/zimage/zimage_config.h"

namespace untwist {

// Linear weights ~ N(0, 1/in) with zero biases where the reference has them,
// norm scales 1, pad tokens ~ N(0, 1); qk-norm scales only when
// config.qk_norm; reproducible per seed.
TensorMap random_zimage_weights(const ZImageConfig& config, uint64_t seed);

}  // namespace untwist
