#include "share/reference_positions.h"

#include <utility>

#include "util/errors.h"
#include "util/named_values.h"

namespace untwist {

namespace {

constexpr Named<ReferencePositions> kPositions[] = {
    {ReferencePositions::Centre, "centre"}, {ReferencePositions::Corner, "corner"}, {ReferencePositions::Scale, "scale"}};

// One axis: n reference positions on an axis of `target` positions.
at::Tensor axis_positions(int64_t n, int64_t target, ReferencePositions positions) {
  const at::Tensor index = at::arange(n, at::kFloat);
  switch (positions) {
    case ReferencePositions::Corner:
      return index;
    case ReferencePositions::Centre:
      // Whole tokens: floor division keeps the lattice of the targets.
      return index + static_cast<float>((target - n) >= 0 ? (target - n) / 2 : -((n - target + 1) / 2));
    case ReferencePositions::Scale:
      // Token centres spread over the same extent: (i + 1/2) target / n - 1/2.
      return (index + 0.5f) * (static_cast<float>(target) / static_cast<float>(n)) - 0.5f;
  }
  throw std::logic_error("unknown reference positions");
}

}  // namespace

ReferencePositions parse_reference_positions(const std::string& text) {
  return parse_in(kPositions, text, "--ref-positions");
}
const char* reference_positions_name(ReferencePositions positions) { return name_in(kPositions, positions); }
std::vector<std::string> reference_positions_names() { return names_of(kPositions); }

at::Tensor reference_grid_positions(TokenGrid reference, TokenGrid targets, ReferencePositions positions) {
  if (reference.rows <= 0 || reference.cols <= 0 || targets.rows <= 0 || targets.cols <= 0) {
    throw InputError("reference positions need non-empty grids");
  }
  const at::Tensor rows = axis_positions(reference.rows, targets.rows, positions);
  const at::Tensor cols = axis_positions(reference.cols, targets.cols, positions);
  return at::stack({rows.repeat_interleave(reference.cols), cols.repeat(reference.rows)}, 1);  // [L_ref, 2]
}

namespace {

// The layout's (row, column) axes; InputError where it has none.
std::pair<int64_t, int64_t> grid_axes(const RopeLayout& rope) {
  const int row = rope.axis(AxisRole::Row), column = rope.axis(AxisRole::Column);
  if (row < 0 || column < 0) throw InputError("the model's RoPE layout has no row and column axes to place a reference on");
  return {row, column};
}

}  // namespace

at::Tensor grid_positions_of(const at::Tensor& ids, const RopeLayout& rope) {
  const auto [row, column] = grid_axes(rope);
  if (ids.dim() != 2 || ids.size(1) != static_cast<int64_t>(rope.roles.size())) {
    throw InputError("image ids " + shape_string(ids.sizes().vec()) + " are not [L, " +
                     std::to_string(rope.roles.size()) + "]");
  }
  return at::stack({ids.select(1, row), ids.select(1, column)}, 1).to(at::kFloat);
}

at::Tensor place_reference_ids(const at::Tensor& own_ids, const RopeLayout& rope, TokenGrid reference,
                               TokenGrid targets, ReferencePositions positions) {
  const int64_t tokens = reference.rows * reference.cols;
  if (own_ids.dim() < 2 || own_ids.size(-2) != tokens || own_ids.size(-1) != static_cast<int64_t>(rope.roles.size())) {
    throw InputError("reference ids " + shape_string(own_ids.sizes().vec()) + " do not hold " +
                     std::to_string(tokens) + " tokens of " + std::to_string(rope.roles.size()) + " axes");
  }
  const auto [row, column] = grid_axes(rope);
  const at::Tensor placed = reference_grid_positions(reference, targets, positions);
  at::Tensor ids = own_ids.to(at::kFloat).clone();
  ids.select(-1, row).copy_(placed.select(1, 0));
  ids.select(-1, column).copy_(placed.select(1, 1));
  return ids;
}

}  // namespace untwist
