// A raster figure drawn with cairo: images, heat maps, text in DejaVu Sans,
// markers; saved to PNG atomically. For labelled image grids and attention
// overlays.
#pragma once
#include <ATen/ATen.h>

#include <map>
#include <string>

typedef struct _cairo_surface cairo_surface_t;
typedef struct _cairo cairo_t;

namespace untwist {

class Figure {
 public:
  Figure(int width, int height);  // white background
  ~Figure();
  Figure(const Figure&) = delete;
  Figure& operator=(const Figure&) = delete;

  // rgb: [3, h, w] in [0, 1], stretched over the box (smooth).
  void image(const at::Tensor& rgb, double x, double y, double width, double height);
  // values: [h, w] >= 0, scaled to its maximum, coloured black-red-yellow-white,
  // blocky over the box, blended with `alpha`.
  void heatmap(const at::Tensor& values, double x, double y, double width, double height, double alpha);
  void text(const std::string& text, double x, double y, double size, bool centred = false);
  void cross(double x, double y, double radius);
  void frame(double x, double y, double width, double height);

  // [3, H, W] in [0, 1]
  at::Tensor pixels() const;
  // Atomically, with optional tEXt entries.
  void save_png(const std::string& path, const std::map<std::string, std::string>& text = {}) const;

 private:
  void draw_pixels(const at::Tensor& rgb, double x, double y, double width, double height, double alpha, bool smooth);
  cairo_surface_t* surface_;
  cairo_t* cr_;
};

// [h, w] values in [0, 1] -> [3, h, w] colours of the heat-map scale.
at::Tensor heat_colours(const at::Tensor& unit_values);

}  // namespace untwist
