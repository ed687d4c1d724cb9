#include "analysis/line_plot.h"

#include <plplot/plplot.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <mutex>

#include "util/errors.h"

namespace untwist {

namespace {

std::mutex plplot_mutex;  // PLplot keeps global stream state

// Series colours 2.. (colour 1 is the black of axes and text).
const std::vector<std::array<int, 3>> kPalette = {
    {214, 39, 40}, {255, 127, 14}, {31, 119, 180}, {44, 160, 44}, {148, 103, 189}, {140, 86, 75}, {127, 127, 127}};

}  // namespace

void write_line_plot(const std::string& png_path, const LinePlot& plot) {
  if (plot.series.empty()) throw std::invalid_argument("a plot needs at least one series");
  double x_min = 1e300, x_max = -1e300, y_min = 1e300, y_max = -1e300;
  for (const Series& s : plot.series) {
    for (double v : s.x) x_min = std::min(x_min, v), x_max = std::max(x_max, v);
    for (double v : s.y) y_min = std::min(y_min, v), y_max = std::max(y_max, v);
  }
  if (x_max <= x_min) x_max = x_min + 1;
  const bool markers = std::any_of(plot.series.begin(), plot.series.end(), [](const Series& s) { return s.points; });
  if (markers) {  // room for the markers at the ends of the x range
    const double pad = 0.05 * (x_max - x_min);
    x_min -= pad;
    x_max += pad;
  }
  const double range = std::max(1e-9, y_max - y_min);
  y_min -= 0.05 * range;
  y_max += 0.35 * range;  // headroom for the legend

  const std::string temp = png_path + ".tmp-plot";
  {
    std::lock_guard<std::mutex> lock(plplot_mutex);
    plsdev("pngcairo");
    plsfnam(temp.c_str());
    char geometry[64];
    std::snprintf(geometry, sizeof(geometry), "%dx%d", plot.width_px, plot.height_px);
    plsetopt("geometry", geometry);
    plscolbg(255, 255, 255);
    plinit();
    plscol0(1, 0, 0, 0);  // black axes and text on white
    for (size_t i = 0; i < kPalette.size(); ++i) {
      plscol0(static_cast<PLINT>(2 + i), kPalette[i][0], kPalette[i][1], kPalette[i][2]);
    }
    plcol0(1);
    plschr(0, 1.1);
    plenv(x_min, x_max, y_min, y_max, 0, 2);  // 2: axes with a grid
    pllab(plot.x_label.c_str(), plot.y_label.c_str(), plot.title.c_str());

    std::vector<PLINT> opts, colors, styles, symbol_numbers;
    std::vector<PLFLT> widths, symbol_scales;
    std::vector<const char*> labels, symbols;
    for (const Series& s : plot.series) {
      plcol0(s.color);
      plwidth(s.width);
      if (s.points) {
        plssym(0, 1.6);
        plstring(static_cast<PLINT>(s.x.size()), s.x.data(), s.y.data(), "#(840)");  // filled circle
      } else {
        plline(static_cast<PLINT>(s.x.size()), s.x.data(), s.y.data());
      }
      opts.push_back(s.points ? PL_LEGEND_SYMBOL : PL_LEGEND_LINE);
      colors.push_back(s.color);
      styles.push_back(1);
      widths.push_back(s.width);
      labels.push_back(s.label.c_str());
      symbol_scales.push_back(1.0);
      symbol_numbers.push_back(1);
      symbols.push_back("#(840)");
    }
    plcol0(1);
    plwidth(1.0);
    PLFLT legend_width = 0, legend_height = 0;
    const PLINT n = static_cast<PLINT>(plot.series.size());
    std::vector<PLINT> text_colors(n, 1);
    pllegend(&legend_width, &legend_height, PL_LEGEND_BACKGROUND | PL_LEGEND_BOUNDING_BOX,
             PL_POSITION_TOP | PL_POSITION_RIGHT | PL_POSITION_INSIDE, 0.02, 0.02, 0.1, 0, 1, 1, 0, 0, n, opts.data(),
             1.0, 1.0, 2.0, 1.0, text_colors.data(), labels.data(), nullptr, nullptr, nullptr, nullptr,
             colors.data(), styles.data(), widths.data(), colors.data(), symbol_scales.data(), symbol_numbers.data(),
             symbols.data());
    plend();
  }
  std::error_code error;
  std::filesystem::rename(temp, png_path, error);
  if (error) {
    std::filesystem::remove(temp);
    fail_file(png_path, "cannot write the plot: " + error.message());
  }
}

}  // namespace untwist
