// Rectified-flow timestep schedules of the reference samplers: times from 1
// down to 0, optionally shifted toward the noisy end by
// t -> e^mu / (e^mu + (1/t - 1)).
#pragma once
#include <cstdint>
#include <vector>

namespace untwist {

// linspace(1, 0, num_steps + 1) in float32, as the references build it.
std::vector<double> linear_times(int64_t num_steps);

// Each t shifted with `mu` (0 stays 0).
std::vector<double> shift_times(std::vector<double> times, double mu);

struct ShiftParams {
  double base_shift = 0.5;  // mu at 256 image tokens
  double max_shift = 1.15;  // mu at 4096 image tokens
};

// FLUX.1's get_schedule: with shift (the default for guidance-embedded
// models) mu grows linearly with the image token count.
std::vector<double> flux_schedule(int64_t num_steps, int64_t image_seq_len, bool shift,
                                  const ShiftParams& params = {});

}  // namespace untwist
