// The paper's Fig. 1: for every RoPE pair of one position axis, the
// similarity of a vector with itself shifted by delta tokens, and its means
// over the high-, mid- and low-frequency thirds of the pairs.
#pragma once
#include <string>
#include <vector>

#include "analysis/line_plot.h"

namespace untwist {

struct RopeBandCurves {
  std::vector<int64_t> axes_dim;
  double theta = 10000;
  int axis = 1;
  std::vector<double> delta;                  // 0 .. max_delta
  std::vector<std::vector<double>> per_pair;  // [pair][delta], pair 0 the highest frequency
  std::vector<double> high, mid, low;         // band means, [delta]
};

// Measured through the model's own RoPE: a random vector is rotated to
// positions 0..max_delta along `axis`, and each pair's rotated copy is
// compared with the one at position 0 (cosine similarity).
RopeBandCurves rope_band_curves(const std::vector<int64_t>& axes_dim, double theta, int axis, int max_delta);

// delta,high,mid,low,pair_0,...,pair_{n-1}
std::string rope_band_csv(const RopeBandCurves& curves);
LinePlot rope_band_plot(const RopeBandCurves& curves);

}  // namespace untwist
