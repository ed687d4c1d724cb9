#include "toy/metrics.h"

#include <mutex>
#include <vector>

namespace untwist::toy {

namespace {

struct TemplateBank {
  at::Tensor masks;            // [N, 1024] float
  at::Tensor areas;            // [N]
  std::vector<Shape> shapes;   // [N]
};

// Every shape at every whole-pixel centre and half-pixel size the world can draw.
const TemplateBank& templates() {
  static std::once_flag once;
  static TemplateBank bank;
  std::call_once(once, [] {
    std::vector<at::Tensor> masks;
    for (int s = 0; s < static_cast<int>(shape_names().size()); ++s) {
      for (float size = kMinHalfSize; size <= kMaxHalfSize; size += 0.5f) {
        for (float cy = size; cy <= kImageSize - size; cy += 1.0f) {
          for (float cx = size; cx <= kImageSize - size; cx += 1.0f) {
            Scene scene;
            scene.shape = static_cast<Shape>(s);
            scene.size = size;
            scene.cx = cx;
            scene.cy = cy;
            masks.push_back(object_mask(scene).reshape({-1}).to(at::kFloat));
            bank.shapes.push_back(scene.shape);
          }
        }
      }
    }
    bank.masks = at::stack(masks);
    bank.areas = bank.masks.sum(1);
  });
  return bank;
}

}  // namespace

at::Tensor background_colour(const at::Tensor& image) {
  const int64_t n = image.size(1);
  const at::Tensor border = at::cat({image.select(1, 0), image.select(1, n - 1), image.select(2, 0),
                                     image.select(2, n - 1)},
                                    1);  // [3, 4n]
  return std::get<0>(border.median(1));
}

at::Tensor foreground_mask(const at::Tensor& image, double threshold) {
  const at::Tensor bg = background_colour(image).reshape({3, 1, 1});
  return (image - bg).pow(2).sum(0).sqrt() > threshold;  // [H, W]
}

double mask_iou(const at::Tensor& a, const at::Tensor& b) {
  const double uni = (a | b).sum().item<double>();
  return uni == 0 ? 1.0 : (a & b).sum().item<double>() / uni;
}

bool has_object(const at::Tensor& mask) { return mask.sum().item<int64_t>() >= 16; }

ShapeMatch classify_shape(const at::Tensor& mask) {
  const TemplateBank& bank = templates();
  const at::Tensor m = mask.reshape({-1}).to(at::kFloat);
  const at::Tensor intersection = at::matmul(bank.masks, m);  // [N]
  const at::Tensor iou = intersection / (bank.areas + m.sum() - intersection).clamp_min(1.0);
  const int64_t best = iou.argmax().item<int64_t>();
  return {bank.shapes[static_cast<size_t>(best)], iou[best].item<double>()};
}

bool shows_shape(const at::Tensor& mask, Shape shape) {
  return has_object(mask) && classify_shape(mask).shape == shape;
}

at::Tensor mean_colour_inside(const at::Tensor& image, const at::Tensor& mask) {
  return image.masked_select(mask.unsqueeze(0).expand_as(image)).reshape({3, -1}).mean(1);
}

StyleStats style_stats(const at::Tensor& image) {
  StyleStats stats;
  stats.background = background_colour(image);
  const at::Tensor mask = foreground_mask(image);
  if (mask.sum().item<int64_t>() == 0) {
    stats.foreground = stats.background;
    stats.texture = at::zeros({2});
    return stats;
  }
  stats.foreground = mean_colour_inside(image, mask);
  const at::Tensor luminance = image.mean(0);  // [H, W]
  const at::Tensor lum_inside = luminance.masked_select(mask);
  // neighbour differences where both pixels are inside the object
  const at::Tensor both_x = mask.narrow(1, 1, mask.size(1) - 1) & mask.narrow(1, 0, mask.size(1) - 1);
  const at::Tensor diff_x = (luminance.narrow(1, 1, luminance.size(1) - 1) - luminance.narrow(1, 0, luminance.size(1) - 1)).abs();
  const double edges = both_x.sum().item<double>();
  const double roughness = edges > 0 ? diff_x.masked_select(both_x).sum().item<double>() / edges : 0.0;
  stats.texture = at::tensor({lum_inside.numel() > 1 ? lum_inside.std().item<float>() : 0.0f,
                              static_cast<float>(roughness)});
  return stats;
}

double style_distance(const StyleStats& a, const StyleStats& b) {
  return (a.background - b.background).norm().item<double>() + (a.foreground - b.foreground).norm().item<double>() +
         (a.texture - b.texture).norm().item<double>();
}

}  // namespace untwist::toy
