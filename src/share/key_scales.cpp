#include "share/key_scales.h"

#include <cmath>
#include <vector>

namespace untwist {

at::Tensor key_scale_vector(const RopeLayout& rope, double s_hf, double s_lf, double beta, Axis0Mode axis0) {
  std::vector<float> scales;
  for (size_t axis = 0; axis < rope.axes_dim.size(); ++axis) {
    const bool spatial = rope.roles[axis] == AxisRole::Row || rope.roles[axis] == AxisRole::Column;
    const int64_t pairs = rope.axes_dim[axis] / 2;
    for (int64_t j = 0; j < pairs; ++j) {
      double scale = s_lf;
      if (spatial || axis0 == Axis0Mode::Match) {
        const double depth = pairs == 1 ? 1.0 : static_cast<double>(j) / static_cast<double>(pairs - 1);
        scale = s_hf + (s_lf - s_hf) * std::pow(depth, beta);
      }
      scales.push_back(static_cast<float>(scale));  // both coordinates of the pair
      scales.push_back(static_cast<float>(scale));
    }
  }
  return at::tensor(scales);
}

}  // namespace untwist
