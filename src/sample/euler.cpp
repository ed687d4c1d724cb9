#include "sample/euler.h"

#include "util/errors.h"

namespace untwist {

at::Tensor euler_sample(at::Tensor state, const std::vector<double>& times, const VelocityFn& velocity) {
  for (size_t i = 0; i + 1 < times.size(); ++i) {
    const at::Tensor v = velocity(state, times[i], static_cast<int>(i));
    state = state + (times[i + 1] - times[i]) * v;
    if (!at::isfinite(state).all().item<bool>()) {
      throw DataError("sampling diverged: the latent is not finite after step " + std::to_string(i + 1) + " of " +
                      std::to_string(times.size() - 1));
    }
  }
  return state;
}

}  // namespace untwist
