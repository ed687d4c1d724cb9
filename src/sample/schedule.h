// The rectified-flow timestep schedule of the reference FLUX sampler.
#pragma once
#include <cstdint>
#include <vector>

namespace untwist {

struct ShiftParams {
  double base_shift = 0.5;  // mu at 256 image tokens
  double max_shift = 1.15;  // mu at 4096 image tokens
};

// num_steps + 1 times from 1 down to 0. With shift (the default for
// guidance-embedded models), t -> e^mu / (e^mu + (1/t - 1)) where mu grows
// linearly with the image token count.
std::vector<double> flux_schedule(int64_t num_steps, int64_t image_seq_len, bool shift,
                                  const ShiftParams& params = {});

}  // namespace untwist
