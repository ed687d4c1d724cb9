#include "analysis/figure.h"

#include <cairo/cairo.h>

#include <vector>

#include "io/image_file.h"
#include "util/errors.h"

namespace untwist {

Figure::Figure(int width, int height)
    : surface_(cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height)), cr_(cairo_create(surface_)) {
  cairo_set_source_rgb(cr_, 1, 1, 1);
  cairo_paint(cr_);
  cairo_select_font_face(cr_, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
}

Figure::~Figure() {
  cairo_destroy(cr_);
  cairo_surface_destroy(surface_);
}

void Figure::draw_pixels(const at::Tensor& rgb, double x, double y, double width, double height, double alpha,
                         bool smooth) {
  const at::Tensor bytes = (rgb.to(at::kFloat).clamp(0, 1) * 255).round().to(at::kByte).contiguous();  // [3, h, w]
  const int h = static_cast<int>(bytes.size(1)), w = static_cast<int>(bytes.size(2));
  cairo_surface_t* source = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
  cairo_surface_flush(source);
  unsigned char* data = cairo_image_surface_get_data(source);
  const int stride = cairo_image_surface_get_stride(source);
  const uint8_t* pixels = bytes.data_ptr<uint8_t>();
  for (int r = 0; r < h; ++r) {
    auto* line = reinterpret_cast<uint32_t*>(data + r * stride);
    for (int c = 0; c < w; ++c) {
      const int i = r * w + c;
      line[c] = (uint32_t{pixels[i]} << 16) | (uint32_t{pixels[h * w + i]} << 8) | pixels[2 * h * w + i];
    }
  }
  cairo_surface_mark_dirty(source);
  cairo_save(cr_);
  cairo_translate(cr_, x, y);
  cairo_scale(cr_, width / w, height / h);
  cairo_set_source_surface(cr_, source, 0, 0);
  cairo_pattern_set_filter(cairo_get_source(cr_), smooth ? CAIRO_FILTER_BILINEAR : CAIRO_FILTER_NEAREST);
  cairo_pattern_set_extend(cairo_get_source(cr_), CAIRO_EXTEND_PAD);
  cairo_rectangle(cr_, 0, 0, w, h);
  cairo_clip(cr_);
  cairo_paint_with_alpha(cr_, alpha);
  cairo_restore(cr_);
  cairo_surface_destroy(source);
}

void Figure::image(const at::Tensor& rgb, double x, double y, double width, double height) {
  draw_pixels(rgb, x, y, width, height, 1.0, true);
}

void Figure::heatmap(const at::Tensor& values, double x, double y, double width, double height, double alpha) {
  const at::Tensor v = values.to(at::kFloat);
  const double peak = v.max().item<double>();
  draw_pixels(heat_colours(peak > 0 ? v / peak : v), x, y, width, height, alpha, false);
}

void Figure::text(const std::string& text, double x, double y, double size, bool centred) {
  cairo_set_font_size(cr_, size);
  cairo_set_source_rgb(cr_, 0, 0, 0);
  double left = x;
  if (centred) {
    cairo_text_extents_t extents;
    cairo_text_extents(cr_, text.c_str(), &extents);
    left = x - extents.width / 2 - extents.x_bearing;
  }
  cairo_move_to(cr_, left, y);
  cairo_show_text(cr_, text.c_str());
}

void Figure::cross(double x, double y, double radius) {
  for (const auto& [colour, width] : {std::pair<double, double>{1.0, 4.0}, {0.0, 2.0}}) {
    cairo_set_source_rgb(cr_, colour, colour * 0.9 + (1 - colour) * 0.8, colour);  // white halo, green cross
    cairo_set_line_width(cr_, width);
    cairo_move_to(cr_, x - radius, y);
    cairo_line_to(cr_, x + radius, y);
    cairo_move_to(cr_, x, y - radius);
    cairo_line_to(cr_, x, y + radius);
    cairo_stroke(cr_);
  }
}

void Figure::frame(double x, double y, double width, double height) {
  cairo_set_source_rgb(cr_, 0.3, 0.3, 0.3);
  cairo_set_line_width(cr_, 1.0);
  cairo_rectangle(cr_, x + 0.5, y + 0.5, width - 1, height - 1);
  cairo_stroke(cr_);
}

at::Tensor Figure::pixels() const {
  cairo_surface_flush(surface_);
  const int width = cairo_image_surface_get_width(surface_), height = cairo_image_surface_get_height(surface_);
  const int stride = cairo_image_surface_get_stride(surface_);
  const at::Tensor words =
      at::from_blob(cairo_image_surface_get_data(surface_), {height, stride / 4}, at::kInt).narrow(1, 0, width);
  const at::Tensor red = words.bitwise_and(0xFF0000).__rshift__(16);
  const at::Tensor green = words.bitwise_and(0x00FF00).__rshift__(8);
  const at::Tensor blue = words.bitwise_and(0x0000FF);
  return at::stack({red, green, blue}, 0).to(at::kFloat) / 255.0;  // [3, H, W]
}

void Figure::save_png(const std::string& path, const std::map<std::string, std::string>& text) const {
  write_png(path, pixels(), text);
}

at::Tensor heat_colours(const at::Tensor& unit_values) {
  const at::Tensor v = unit_values.to(at::kFloat).clamp(0, 1);
  // black -> red -> yellow -> white in three equal ramps
  const at::Tensor red = (v * 3).clamp(0, 1);
  const at::Tensor green = (v * 3 - 1).clamp(0, 1);
  const at::Tensor blue = (v * 3 - 2).clamp(0, 1);
  return at::stack({red, green, blue}, 0);  // [3, h, w]
}

}  // namespace untwist
