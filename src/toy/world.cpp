#include "toy/world.h"

#include <algorithm>
#include <cmath>

namespace untwist::toy {

namespace {

const std::vector<std::array<float, 3>> kColours = {
    {0.90f, 0.10f, 0.10f},  // red
    {0.10f, 0.70f, 0.15f},  // green
    {0.10f, 0.25f, 0.90f},  // blue
    {0.95f, 0.85f, 0.10f},  // yellow
    {0.60f, 0.15f, 0.75f},  // purple
    {0.98f, 0.55f, 0.05f},  // orange
    {0.95f, 0.95f, 0.95f},  // white
    {0.08f, 0.08f, 0.08f},  // black
};

// Inside test for a point relative to the centre, in units of the half extent.
bool inside(Shape shape, float x, float y) {
  const float ax = std::fabs(x), ay = std::fabs(y);
  switch (shape) {
    case Shape::Circle: return x * x + y * y <= 1.0f;
    case Shape::Square: return ax <= 0.85f && ay <= 0.85f;
    case Shape::Triangle: return y <= 0.9f && y >= -1.0f && ax <= (y + 1.0f) * 0.55f;
    case Shape::Diamond: return ax + ay <= 1.0f;
    case Shape::Cross: return (ax <= 0.33f && ay <= 1.0f) || (ay <= 0.33f && ax <= 1.0f);
    case Shape::Ring: {
      const float r2 = x * x + y * y;
      return r2 <= 1.0f && r2 >= 0.3f;
    }
  }
  return false;
}

}  // namespace

// The pattern is counted from the object's bounding-box corner, so that every
// texture is a function of the position relative to the object (which RoPE
// sees), not of the absolute pixel.
bool texture_pattern(Texture texture, int64_t rx, int64_t ry) {
  switch (texture) {
    case Texture::Solid: return true;
    case Texture::Stripes: return ((rx + ry) / 2) % 2 == 0;
    case Texture::Dots: return !((rx % 4 == 1 || rx % 4 == 2) && (ry % 4 == 1 || ry % 4 == 2));
    case Texture::Checks: return ((rx / 3) + (ry / 3)) % 2 == 0;
  }
  return true;
}

const std::vector<std::string>& shape_names() {
  static const std::vector<std::string> names = {"circle", "square", "triangle", "diamond", "cross", "ring"};
  return names;
}

const std::vector<std::string>& texture_names() {
  static const std::vector<std::string> names = {"solid", "striped", "dotted", "checked"};
  return names;
}

const std::vector<std::string>& vocabulary() {
  static const std::vector<std::string> words = [] {
    std::vector<std::string> v = {"<pad>"};
    for (const auto* list : {&shape_names(), &colour_names(), &texture_names()}) {
      v.insert(v.end(), list->begin(), list->end());
    }
    v.push_back("on");
    for (const char* word : {"top", "bottom", "left", "right", "centre"}) v.push_back(word);
    return v;
  }();
  return words;
}

const std::vector<std::string>& colour_names() {
  static const std::vector<std::string> names = {"red", "green", "blue", "yellow", "purple", "orange", "white", "black"};
  return names;
}

const std::vector<std::string>& position_names() {
  static const std::vector<std::string> names = {"top left",    "top",    "top right",
                                                 "left",        "centre", "right",
                                                 "bottom left", "bottom", "bottom right"};
  return names;
}

std::array<float, 3> colour_rgb(int colour) { return kColours.at(static_cast<size_t>(colour)); }

namespace {

// `scene` centred (dx, dy) pixels from `cell`'s centre, kept inside the image.
Scene placed(Scene scene, int cell, float dx, float dy) {
  const float last = static_cast<float>(kImageSize) - scene.size;
  scene.cx = std::clamp(kCellCentres.at(static_cast<size_t>(cell % 3)) + dx, scene.size, last);
  scene.cy = std::clamp(kCellCentres.at(static_cast<size_t>(cell / 3)) + dy, scene.size, last);
  return scene;
}

}  // namespace

Scene random_scene(std::mt19937_64& rng) {
  Scene scene;
  scene.shape = static_cast<Shape>(std::uniform_int_distribution<int>(0, 5)(rng));
  scene.texture = static_cast<Texture>(std::uniform_int_distribution<int>(0, 3)(rng));
  scene.foreground = std::uniform_int_distribution<int>(0, 7)(rng);
  scene.background = std::uniform_int_distribution<int>(0, 6)(rng);
  if (scene.background >= scene.foreground) ++scene.background;
  scene.size = std::uniform_real_distribution<float>(kMinHalfSize, kMaxHalfSize)(rng);
  const int cell = std::uniform_int_distribution<int>(0, 8)(rng);
  std::uniform_real_distribution<float> jitter(-kCellJitter, kCellJitter);
  const float dx = jitter(rng), dy = jitter(rng);
  return placed(scene, cell, dx, dy);
}

namespace {

int nearest_centre(float pixel) {
  int best = 0;
  for (int i = 1; i < 3; ++i) {
    const float distance = std::fabs(pixel - kCellCentres[static_cast<size_t>(i)]);
    if (distance < std::fabs(pixel - kCellCentres[static_cast<size_t>(best)])) best = i;
  }
  return best;
}

}  // namespace

int cell_of(const Scene& scene) { return 3 * nearest_centre(scene.cy) + nearest_centre(scene.cx); }

Scene in_cell(Scene scene, int cell) { return placed(scene, cell, 0, 0); }

at::Tensor object_mask(const Scene& scene) {
  at::Tensor mask = at::zeros({kImageSize, kImageSize}, at::kBool);
  auto m = mask.accessor<bool, 2>();
  for (int64_t py = 0; py < kImageSize; ++py) {
    for (int64_t px = 0; px < kImageSize; ++px) {
      const float x = (static_cast<float>(px) + 0.5f - scene.cx) / scene.size;
      const float y = (static_cast<float>(py) + 0.5f - scene.cy) / scene.size;
      m[py][px] = inside(scene.shape, x, y);
    }
  }
  return mask;
}

at::Tensor render(const Scene& scene) {
  const at::Tensor mask = object_mask(scene);
  const auto m = mask.accessor<bool, 2>();
  const auto fg = colour_rgb(scene.foreground), bg = colour_rgb(scene.background);
  at::Tensor image = at::empty({3, kImageSize, kImageSize});
  auto pixels = image.accessor<float, 3>();
  // The bounding box's first pixel, one before it for safety: offsets inside the object are >= 0.
  const int64_t left = static_cast<int64_t>(std::floor(scene.cx - scene.size)) - 1;
  const int64_t top = static_cast<int64_t>(std::floor(scene.cy - scene.size)) - 1;
  for (int64_t py = 0; py < kImageSize; ++py) {
    for (int64_t px = 0; px < kImageSize; ++px) {
      for (int c = 0; c < 3; ++c) {
        const float shade = texture_pattern(scene.texture, px - left, py - top) ? fg[c] : 0.45f * fg[c] + 0.1f;
        pixels[c][py][px] = m[py][px] ? shade : bg[c];
      }
    }
  }
  return image;
}

PromptParts named_in(const std::vector<std::string>& vocabulary, PromptParts parts) {
  parts.position = parts.position && std::find(vocabulary.begin(), vocabulary.end(), "centre") != vocabulary.end();
  return parts;
}

std::string prompt_for(const Scene& scene, const PromptParts& parts) {
  std::vector<std::string> words;
  if (parts.texture) words.push_back(texture_names()[static_cast<size_t>(scene.texture)]);
  if (parts.foreground) words.push_back(colour_names()[static_cast<size_t>(scene.foreground)]);
  if (parts.shape) words.push_back(shape_names()[static_cast<size_t>(scene.shape)]);
  if (parts.position) words.push_back(position_names()[static_cast<size_t>(cell_of(scene))]);
  if (parts.background) {
    words.push_back("on");
    words.push_back(colour_names()[static_cast<size_t>(scene.background)]);
  }
  std::string prompt;
  for (const auto& word : words) prompt += (prompt.empty() ? "" : " ") + word;
  return prompt;
}

}  // namespace untwist::toy
