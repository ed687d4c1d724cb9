#include "analysis/rope_bands.h"

#include <ATen/ATen.h>

#include <sstream>

#include "model/rope.h"
#include "util/errors.h"

namespace untwist {

RopeBandCurves rope_band_curves(const std::vector<int64_t>& axes_dim, double theta, int axis, int max_delta) {
  if (axis < 0 || axis >= static_cast<int>(axes_dim.size()) || axes_dim[axis] < 2) {
    throw UsageError("RoPE axis " + std::to_string(axis) + " does not exist or has no pairs");
  }
  if (max_delta < 1) throw UsageError("--max-delta must be at least 1");
  RopeBandCurves curves;
  curves.axes_dim = axes_dim;
  curves.theta = theta;
  curves.axis = axis;

  const int64_t positions = max_delta + 1;
  int64_t head_dim = 0, offset = 0;
  for (size_t a = 0; a < axes_dim.size(); ++a) {
    if (static_cast<int>(a) < axis) offset += axes_dim[a];
    head_dim += axes_dim[a];
  }
  at::Tensor ids = at::zeros({1, positions, static_cast<int64_t>(axes_dim.size())});
  ids.select(2, axis).copy_(at::arange(positions, at::kFloat));
  const at::Tensor pe = rope_table(ids, axes_dim, theta);                                    // [1, 1, P, D/2, 2, 2]
  const at::Tensor x = at::randn({1, 1, 1, head_dim}, at::kDouble).expand({1, 1, positions, head_dim});
  const at::Tensor rotated = apply_rope(x.to(at::kFloat), pe).to(at::kDouble)[0][0];        // [P, D]
  const at::Tensor pairs = rotated.narrow(1, offset, axes_dim[axis]).reshape({positions, -1, 2});  // [P, n, 2]
  const at::Tensor similarity = (pairs * pairs[0]).sum(-1) / (pairs[0] * pairs[0]).sum(-1);       // [P, n]

  const int64_t n = axes_dim[axis] / 2;
  for (int64_t j = 0; j < n; ++j) {
    const at::Tensor column = similarity.select(1, j).contiguous();
    curves.per_pair.emplace_back(column.data_ptr<double>(), column.data_ptr<double>() + positions);
  }
  auto band_mean = [&](int64_t from, int64_t to) {
    to = std::max(to, from + 1);
    const at::Tensor mean = similarity.narrow(1, from, std::min(to, n) - from).mean(1).contiguous();
    return std::vector<double>(mean.data_ptr<double>(), mean.data_ptr<double>() + positions);
  };
  curves.high = band_mean(0, n / 3);
  curves.mid = band_mean(n / 3, 2 * n / 3);
  curves.low = band_mean(2 * n / 3, n);
  for (int64_t d = 0; d < positions; ++d) curves.delta.push_back(static_cast<double>(d));
  return curves;
}

std::string rope_band_csv(const RopeBandCurves& curves) {
  std::ostringstream out;
  out << "delta,high,mid,low";
  for (size_t j = 0; j < curves.per_pair.size(); ++j) out << ",pair_" << j;
  out << "\n";
  for (size_t d = 0; d < curves.delta.size(); ++d) {
    out << curves.delta[d] << "," << curves.high[d] << "," << curves.mid[d] << "," << curves.low[d];
    for (const auto& pair : curves.per_pair) out << "," << pair[d];
    out << "\n";
  }
  return out.str();
}

LinePlot rope_band_plot(const RopeBandCurves& curves) {
  std::ostringstream title;
  title << "RoPE band similarity, axis " << curves.axis << " (" << curves.per_pair.size() << " pairs), axes [";
  for (size_t a = 0; a < curves.axes_dim.size(); ++a) title << (a ? "," : "") << curves.axes_dim[a];
  title << "], theta " << curves.theta;
  LinePlot plot;
  plot.title = title.str();
  plot.x_label = "shift #gD (tokens)";
  plot.y_label = "similarity with unshifted copy";
  plot.series = {{"high-frequency third", curves.delta, curves.high, 2, 3.0},
                 {"mid-frequency third", curves.delta, curves.mid, 3, 3.0},
                 {"low-frequency third", curves.delta, curves.low, 4, 3.0}};
  return plot;
}

}  // namespace untwist
