// Line plots with real axes, ticks, labels and a legend (PLplot's cairo PNG
// driver), written atomically.
#pragma once
#include <string>
#include <vector>

namespace untwist {

struct Series {
  std::string label;
  std::vector<double> x, y;
  int color = 2;       // 2.. the palette: red, orange, blue, green, purple, brown, grey
  double width = 2.0;  // line width
  bool points = false;  // markers at the data points instead of a line
};

struct LinePlot {
  std::string title, x_label, y_label;
  std::vector<Series> series;
  int width_px = 900, height_px = 600;
};

void write_line_plot(const std::string& png_path, const LinePlot& plot);

}  // namespace untwist
