// The toy world: one object on a plain background, 32x32 RGB. Content is the
// shape with its position and size; style is the foreground colour, the
// background colour and the texture inside the object. Prompts name these
// from a small vocabulary ("striped red circle on blue").
#pragma once
#include <ATen/ATen.h>

#include <array>
#include <random>
#include <string>
#include <vector>

namespace untwist::toy {

constexpr int64_t kImageSize = 32;
// An object's half extent in pixels, drawn uniformly from this range.
constexpr float kMinHalfSize = 6.0f, kMaxHalfSize = 8.0f;
// Objects sit in one of 3x3 cells: a row and a column centred at these pixels
// (give or take kCellJitter), named by the prompt's position words.
constexpr std::array<float, 3> kCellCentres = {7.0f, 16.0f, 25.0f};
constexpr float kCellJitter = 1.0f;

enum class Shape { Circle, Square, Triangle, Diamond, Cross, Ring };
enum class Texture { Solid, Stripes, Dots, Checks };

const std::vector<std::string>& shape_names();    // index = Shape
const std::vector<std::string>& texture_names();  // index = Texture: "solid", "striped", "dotted", "checked"
const std::vector<std::string>& colour_names();   // 8 named colours
// The cell's words, row then column ("top left", "top", ..., "centre", ...,
// "bottom right"), for cell = 3 * row + column.
const std::vector<std::string>& position_names();
std::array<float, 3> colour_rgb(int colour);
// The words of the world's prompts as the toy text side numbers them:
// "<pad>", then every shape, colour and texture word, "on", then the
// position words ("top", "bottom", "left", "right", "centre").
const std::vector<std::string>& vocabulary();

struct Scene {
  Shape shape = Shape::Circle;
  int foreground = 0, background = 1;  // colour indices, always different
  Texture texture = Texture::Solid;
  float cx = 16, cy = 16;  // centre in pixels
  float size = 8;          // half extent in pixels
};

// Uniform over attributes and cells; the centre jitters within its cell and
// the size varies a little, so that the prompt fixes the layout nearly, and
// two unrelated scenes rarely overlap by chance.
Scene random_scene(std::mt19937_64& rng);

// The cell (3 * row + column) whose centre is nearest the scene's.
int cell_of(const Scene& scene);
// `scene` moved to the centre of `cell`.
Scene in_cell(Scene scene, int cell);

// The texture's pattern at (rx, ry) >= 0, a pixel's offset from the corner
// render() counts the pattern from: true where the foreground colour shows,
// false where its darker shade does.
bool texture_pattern(Texture texture, int64_t rx, int64_t ry);

// [32, 32] bool: the object's pixels.
at::Tensor object_mask(const Scene& scene);
// [3, 32, 32] in [0, 1]
at::Tensor render(const Scene& scene);

// Which attributes a prompt names.
struct PromptParts {
  bool shape = true, foreground = true, background = true, texture = true, position = true;
};
// "[texture] [colour] shape [position] [on colour]", leaving out what `parts`
// omits ("striped red ring top left on blue").
std::string prompt_for(const Scene& scene, const PromptParts& parts = {});

// `parts` less what a checkpoint's vocabulary has no words for: a model of
// the world before positions had words were named is prompted without them.
PromptParts named_in(const std::vector<std::string>& vocabulary, PromptParts parts);

}  // namespace untwist::toy
