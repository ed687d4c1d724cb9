// The one place that knows every diffusion-transformer family: picks the
// family from the weights' names and builds its model.
#pragma once
#include <ATen/ATen.h>

#include <memory>

#include "model/dit.h"
#include "model/rope_config.h"

namespace untwist {

class Weights;

// FLUX.2 (its shared modulations) or FLUX.1; a DataError naming the file
// when the weights are neither.
std::unique_ptr<DiffusionTransformer> load_dit(const Weights& weights, const RopeOverride& rope = {},
                                               at::ScalarType compute_dtype = at::kFloat,
                                               at::Device device = at::kCPU);

}  // namespace untwist
