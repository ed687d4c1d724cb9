// A labelled grid of images: one row per label on the left, one column per
// label on top, drawn with cairo and saved as PNG with the recipe attached.
#pragma once
#include <ATen/ATen.h>

#include <map>
#include <string>
#include <vector>

namespace untwist {

struct ImageGrid {
  std::string title;
  std::vector<std::string> column_labels, row_labels;
  std::vector<std::vector<at::Tensor>> rows;  // rows[r][c]: [3, H, W] in [0, 1]
};

void write_image_grid(const std::string& path, const ImageGrid& grid, const std::map<std::string, std::string>& text);

}  // namespace untwist
