// Where a reference on a grid of its own sits among the targets' positions.
// A reference image of another size or aspect ratio than the targets keeps
// its own token grid; its RoPE positions on the row and column axes are
// placed on the targets' grid:
// - centre: its grid's centre on the targets' (whole-token offsets, so its
//   tokens still line up with target tokens, as the same-size reference's do);
// - corner: its own positions from (0, 0), as the model would give it alone;
// - scale: stretched to span the targets' grid (fractional positions).
#pragma once
#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "model/rope.h"

namespace untwist {

enum class ReferencePositions { Centre, Corner, Scale };

ReferencePositions parse_reference_positions(const std::string& text);
const char* reference_positions_name(ReferencePositions positions);
std::vector<std::string> reference_positions_names();

// A grid of rows x cols tokens.
struct TokenGrid {
  int64_t rows = 0, cols = 0;
};

// The (row, column) position of each token of `reference` (row-major) on the
// targets' grid: [rows * cols, 2] float32.
at::Tensor reference_grid_positions(TokenGrid reference, TokenGrid targets, ReferencePositions positions);

// The (row, column) of each of image ids [L, A] on the layout's row and
// column axes: [L, 2] float32. InputError for a layout without them.
at::Tensor grid_positions_of(const at::Tensor& ids, const RopeLayout& rope);

// The reference's own image ids [..., L_ref, A] (as the family builds them for
// its grid) with their row and column axes moved to reference_grid_positions.
at::Tensor place_reference_ids(const at::Tensor& own_ids, const RopeLayout& rope, TokenGrid reference,
                               TokenGrid targets, ReferencePositions positions);

}  // namespace untwist
