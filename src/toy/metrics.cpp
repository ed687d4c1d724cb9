#include "toy/metrics.h"

#include <algorithm>
#include <cmath>
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

// A patterned texture explains at least this share of the colour variance
// inside the object, with its two shades at least this far apart (RGB
// distance; the world's closest pair, black and its shade, is 0.097 apart).
constexpr double kPatternExplains = 0.5, kMinShadeContrast = 0.05;
// Phases tried in x and y: a whole period of every pattern (stripes and dots
// repeat every 4 pixels, checks every 6).
constexpr int64_t kPhases = 12;

struct ObjectPixel {
  int64_t x = 0, y = 0;
  double rgb[3] = {0, 0, 0};
};

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

int cell_of_mask(const at::Tensor& mask) {
  const at::Tensor rows = mask.any(1).nonzero().reshape({-1}), columns = mask.any(0).nonzero().reshape({-1});
  Scene box;
  box.cy = static_cast<float>(rows.min().item<int64_t>() + rows.max().item<int64_t>() + 1) / 2;
  box.cx = static_cast<float>(columns.min().item<int64_t>() + columns.max().item<int64_t>() + 1) / 2;
  return cell_of(box);
}

Texture texture_of(const at::Tensor& image, const at::Tensor& mask) {
  const at::Tensor colours = image.to(at::kFloat).contiguous();
  const at::Tensor inside = mask.to(at::kBool).contiguous();
  const auto c = colours.accessor<float, 3>();
  const auto m = inside.accessor<bool, 2>();
  std::vector<ObjectPixel> pixels;
  int64_t left = inside.size(1), top = inside.size(0);
  double sum[3] = {0, 0, 0};
  for (int64_t y = 0; y < inside.size(0); ++y) {
    for (int64_t x = 0; x < inside.size(1); ++x) {
      if (!m[y][x]) continue;
      ObjectPixel pixel;
      pixel.x = x;
      pixel.y = y;
      for (int k = 0; k < 3; ++k) {
        pixel.rgb[k] = c[k][y][x];
        sum[k] += pixel.rgb[k];
      }
      pixels.push_back(pixel);
      left = std::min(left, x);
      top = std::min(top, y);
    }
  }
  const double n = static_cast<double>(pixels.size());
  double total_variance = 0;  // summed squared distance to the object's mean colour
  for (const ObjectPixel& pixel : pixels) {
    for (int k = 0; k < 3; ++k) total_variance += std::pow(pixel.rgb[k] - sum[k] / n, 2);
  }
  Texture best = Texture::Solid;
  double best_between = 0, best_contrast = 0;
  for (Texture texture : {Texture::Stripes, Texture::Dots, Texture::Checks}) {
    for (int64_t phase_y = 0; phase_y < kPhases; ++phase_y) {
      for (int64_t phase_x = 0; phase_x < kPhases; ++phase_x) {
        double light = 0, light_sum[3] = {0, 0, 0};
        for (const ObjectPixel& pixel : pixels) {
          if (!texture_pattern(texture, pixel.x - left + phase_x, pixel.y - top + phase_y)) continue;
          light += 1;
          for (int k = 0; k < 3; ++k) light_sum[k] += pixel.rgb[k];
        }
        const double dark = n - light;
        if (light == 0 || dark == 0) continue;
        double contrast_squared = 0;  // between the light and the dark class's mean colours
        for (int k = 0; k < 3; ++k) {
          contrast_squared += std::pow(light_sum[k] / light - (sum[k] - light_sum[k]) / dark, 2);
        }
        const double between = light * dark / n * contrast_squared;  // the variance the two classes explain
        if (between > best_between) {
          best = texture;
          best_between = between;
          best_contrast = std::sqrt(contrast_squared);
        }
      }
    }
  }
  if (best_between < kPatternExplains * total_variance || best_contrast < kMinShadeContrast) return Texture::Solid;
  return best;
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
