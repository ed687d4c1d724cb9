#include "analysis/image_grid.h"

#include <algorithm>

#include "analysis/figure.h"

namespace untwist {

void write_image_grid(const std::string& path, const ImageGrid& grid, const std::map<std::string, std::string>& text) {
  size_t columns = 0;
  for (const auto& row : grid.rows) columns = std::max(columns, row.size());
  const at::Tensor& first = grid.rows.at(0).at(0);
  const double cell_w = std::min<double>(256, std::max<double>(128, first.size(2)));
  const double cell_h = cell_w * first.size(1) / first.size(2);
  const double gap = 8, left = grid.row_labels.empty() ? gap : 110, top = 64;
  Figure figure(static_cast<int>(left + columns * (cell_w + gap) + gap),
                static_cast<int>(top + grid.rows.size() * (cell_h + gap) + gap));
  figure.text(grid.title, gap, 24, 15);
  for (size_t c = 0; c < grid.column_labels.size() && c < columns; ++c) {
    std::string label = grid.column_labels[c];
    const size_t fits = static_cast<size_t>(cell_w / 7.5);  // characters of 12-pixel DejaVu Sans
    if (label.size() > fits) {
      size_t cut = fits - 2;
      while (cut > 0 && (static_cast<unsigned char>(label[cut]) & 0xC0) == 0x80) --cut;  // whole UTF-8 characters
      label = label.substr(0, cut) + "..";
    }
    figure.text(label, left + c * (cell_w + gap) + cell_w / 2, top - 10, 12, true);
  }
  for (size_t r = 0; r < grid.rows.size(); ++r) {
    const double y = top + r * (cell_h + gap);
    if (r < grid.row_labels.size()) figure.text(grid.row_labels[r], gap, y + cell_h / 2, 13);
    for (size_t c = 0; c < grid.rows[r].size(); ++c) {
      const double x = left + c * (cell_w + gap);
      figure.image(grid.rows[r][c], x, y, cell_w, cell_h);
      figure.frame(x, y, cell_w, cell_h);
    }
  }
  figure.save_png(path, text);
}

}  // namespace untwist
