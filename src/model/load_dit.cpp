#include "model/load_dit.h"

#include "io/weights.h"
#include "model/flux1/flux.h"
#include "model/flux2/flux2.h"

namespace untwist {

std::unique_ptr<DiffusionTransformer> load_dit(const Weights& weights, const RopeOverride& rope,
                                               at::ScalarType compute_dtype, at::Device device) {
  if (is_flux2_transformer(weights)) {
    return std::make_unique<Flux2Model>(weights, detect_flux2_config(weights, rope), compute_dtype, device);
  }
  return std::make_unique<FluxModel>(weights, detect_flux_config(weights, rope), compute_dtype, device);
}

}  // namespace untwist
