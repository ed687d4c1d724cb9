// Euler integration of the rectified-flow ODE from noise (t = 1) to data (t = 0).
#pragma once
#include <ATen/ATen.h>

#include <functional>
#include <vector>

namespace untwist {

// (state [B, L, C], t, step index) -> velocity [B, L, C]
using VelocityFn = std::function<at::Tensor(const at::Tensor& state, double t, int step)>;

// x <- x + (t_next - t) * v(x, t) over consecutive pairs of `times`.
// Stops with a DataError naming the step if the state stops being finite.
at::Tensor euler_sample(at::Tensor state, const std::vector<double>& times, const VelocityFn& velocity);

}  // namespace untwist
