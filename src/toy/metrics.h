// Measuring a generated toy image: where its object is, which shape it is,
// which texture it shows, and its style (background colour, foreground
// colour, texture statistics), so that copying, content and style transfer
// become numbers.
#pragma once
#include <ATen/ATen.h>

#include <string>

#include "toy/world.h"

namespace untwist::toy {

// The background colour: the median of the border pixels. [3]
at::Tensor background_colour(const at::Tensor& image);

// [32, 32] bool: pixels farther than `threshold` (RGB distance) from the background colour.
at::Tensor foreground_mask(const at::Tensor& image, double threshold = 0.3);

double mask_iou(const at::Tensor& a, const at::Tensor& b);

// Whether a mask holds an object rather than a few stray pixels: at least
// the area of a 4x4 patch, a fraction of the smallest shape the world draws.
bool has_object(const at::Tensor& mask);

// The rendered shape whose mask (over every position and size the world
// draws) best matches `mask`, with that IoU.
struct ShapeMatch {
  Shape shape = Shape::Circle;
  double iou = 0;
};
ShapeMatch classify_shape(const at::Tensor& mask);

// Whether a mask shows `shape`: it holds an object and the classifier finds that shape.
bool shows_shape(const at::Tensor& mask, Shape shape);

// The cell (3 * row + column, world.h) nearest the centre of a non-empty mask's bounding box.
int cell_of_mask(const at::Tensor& mask);

// The texture an object shows, read from the pixels inside `mask`: the
// world's pattern (counted from the mask's bounding-box corner, at the phase
// that fits best) whose two classes of pixels explain most of the colour
// variance inside the object; Solid when no pattern does, or when its two
// shades hardly differ. image: [3, 32, 32] in [0, 1]; mask: [32, 32] bool.
Texture texture_of(const at::Tensor& image, const at::Tensor& mask);

// The mean colour of an image's pixels inside a non-empty mask. [3]
at::Tensor mean_colour_inside(const at::Tensor& image, const at::Tensor& mask);

struct StyleStats {
  at::Tensor background;  // [3]
  at::Tensor foreground;  // [3] mean colour inside the object
  at::Tensor texture;     // [2] luminance spread inside the object, mean absolute neighbour difference
};
StyleStats style_stats(const at::Tensor& image);
// Sum of the three Euclidean distances.
double style_distance(const StyleStats& a, const StyleStats& b);

}  // namespace untwist::toy
