#include "analysis/attention_figure.h"

#include "analysis/figure.h"

namespace untwist {

void write_attention_figure(const std::string& path, const std::vector<QueryMaps>& maps, const at::Tensor& images,
                            int64_t target, int64_t h, int64_t w, const std::string& title) {
  const double panel = 150, gap = 8, label_width = 110, header = 70;
  const double panel_h = panel * static_cast<double>(h) / static_cast<double>(w);
  const bool with_images = images.defined();
  const int columns = with_images ? 8 : 6;
  Figure figure(static_cast<int>(label_width + columns * (panel + gap) + gap),
                static_cast<int>(header + maps.size() * (panel_h + gap) + gap));
  figure.text(title, gap, 24, 16);
  std::vector<std::string> labels;
  if (with_images) labels.push_back("target");
  for (const char* band : {"all pairs", "high only", "low only"}) labels.push_back(std::string("own: ") + band);
  if (with_images) labels.push_back("reference");
  for (const char* band : {"all pairs", "high only", "low only"}) labels.push_back(std::string("ref: ") + band);
  for (int c = 0; c < columns; ++c) {
    figure.text(labels[c], label_width + c * (panel + gap) + panel / 2, header - 10, 13, true);
  }
  for (size_t r = 0; r < maps.size(); ++r) {
    const QueryMaps& query = maps[r];
    const double y = header + r * (panel_h + gap);
    figure.text("query (" + std::to_string(query.row) + "," + std::to_string(query.col) + ")", gap, y + panel_h / 2,
                13);
    const double mark_x = (query.col + 0.5) * panel / w, mark_y = (query.row + 0.5) * panel_h / h;
    int column = 0;
    for (int side = 0; side < 2; ++side) {
      const at::Tensor background = with_images ? images[side == 0 ? target : 0] : at::Tensor();
      if (with_images) {
        const double x = label_width + column++ * (panel + gap);
        figure.image(background, x, y, panel, panel_h);
        if (side == 0) figure.cross(x + mark_x, y + mark_y, 6);
        figure.frame(x, y, panel, panel_h);
      }
      for (size_t band = 0; band < 3; ++band) {
        const double x = label_width + column++ * (panel + gap);
        const at::Tensor& map = side == 0 ? query.own[band] : query.reference[band];
        if (with_images) figure.image(background * 0.5, x, y, panel, panel_h);  // dimmed under the map
        figure.heatmap(map, x, y, panel, panel_h, with_images ? 0.7 : 1.0);
        figure.cross(x + mark_x, y + mark_y, 6);
        figure.frame(x, y, panel, panel_h);
      }
    }
  }
  figure.save_png(path);
}

}  // namespace untwist
