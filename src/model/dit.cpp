#include "model/dit.h"

#include "util/errors.h"

namespace untwist {

at::Tensor DiffusionTransformer::in_context_ids(int64_t, int, int64_t, int64_t) const {
  throw UsageError("the " + family() + " family takes no in-context images (--edit-image needs FLUX.2)");
}

std::optional<NonFiniteSite> locate_non_finite(const DiffusionTransformer& model, const DitInputs& inputs,
                                               const at::Tensor& pe, const AttentionHook* hook) {
  std::optional<NonFiniteSite> site;
  model.forward_probed(inputs, pe, hook, [&site](const std::string& name, const at::Tensor& tensor) {
    const at::Tensor bad_rows = at::logical_not(at::isfinite(tensor).flatten(1).all(1)).nonzero();  // [n, 1]
    if (bad_rows.size(0) == 0) return true;
    site = NonFiniteSite{name, bad_rows[0][0].item<int64_t>()};
    return false;
  });
  return site;
}

std::pair<int64_t, int64_t> token_grid(const at::Tensor& img_ids, const RopeLayout& rope) {
  const int row = rope.axis(AxisRole::Row), col = rope.axis(AxisRole::Column);
  if (img_ids.dim() != 3 || img_ids.size(2) != static_cast<int64_t>(rope.axes_dim.size()) || img_ids.size(1) == 0 ||
      row < 0 || col < 0) {
    throw InputError("image ids of shape " + shape_string(img_ids.sizes().vec()) + " are not [B, L, " +
                     std::to_string(rope.axes_dim.size()) + "]");
  }
  const int64_t h = img_ids.select(2, row).max().item<double>() + 1;
  const int64_t w = img_ids.select(2, col).max().item<double>() + 1;
  return {h, w};
}

}  // namespace untwist
