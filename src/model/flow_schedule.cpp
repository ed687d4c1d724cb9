#include "model/flow_schedule.h"

#include <cmath>

namespace untwist {

std::vector<double> linear_times(int64_t num_steps) {
  std::vector<double> times(static_cast<size_t>(num_steps + 1));
  for (int64_t i = 0; i <= num_steps; ++i) {
    const float t = num_steps == 0 ? 1.0f : 1.0f - static_cast<float>(i) / static_cast<float>(num_steps);
    times[static_cast<size_t>(i)] = t;
  }
  return times;
}

std::vector<double> shift_times(std::vector<double> times, double mu) {
  for (double& t : times) {
    t = t <= 0.0 ? 0.0 : std::exp(mu) / (std::exp(mu) + (1.0 / t - 1.0));
  }
  return times;
}

std::vector<double> flux_schedule(int64_t num_steps, int64_t image_seq_len, bool shift, const ShiftParams& params) {
  const std::vector<double> times = linear_times(num_steps);
  if (!shift) return times;
  const double slope = (params.max_shift - params.base_shift) / (4096.0 - 256.0);
  return shift_times(times, params.base_shift + slope * (static_cast<double>(image_seq_len) - 256.0));
}

}  // namespace untwist
