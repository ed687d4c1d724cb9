#include "model/flux1/packing.h"

#include "util/errors.h"

namespace untwist {

at::Tensor pack_latents(const at::Tensor& latents) {
  const int64_t b = latents.size(0), c = latents.size(1), h = latents.size(2) / 2, w = latents.size(3) / 2;
  return latents.reshape({b, c, h, 2, w, 2})
      .permute({0, 2, 4, 1, 3, 5})   // [B, h, w, C, 2, 2]
      .reshape({b, h * w, c * 4});  // [B, h*w, C*4]
}

at::Tensor unpack_latents(const at::Tensor& packed, int64_t h, int64_t w) {
  const int64_t b = packed.size(0), c = packed.size(2) / 4;
  if (packed.size(1) != h * w || packed.size(2) % 4 != 0) {
    throw InputError("cannot unpack latents of shape " + shape_string(packed.sizes().vec()) + " onto a " +
                     std::to_string(h) + "x" + std::to_string(w) + " token grid");
  }
  return packed.reshape({b, h, w, c, 2, 2})
      .permute({0, 3, 1, 4, 2, 5})       // [B, C, h, 2, w, 2]
      .reshape({b, c, h * 2, w * 2});  // [B, C, 2h, 2w]
}

at::Tensor image_position_ids(int64_t batch, int64_t h, int64_t w) {
  at::Tensor ids = at::zeros({h, w, 3}, at::kFloat);
  ids.select(2, 1).copy_(at::arange(h, at::kFloat).unsqueeze(1).expand({h, w}));
  ids.select(2, 2).copy_(at::arange(w, at::kFloat).unsqueeze(0).expand({h, w}));
  return ids.reshape({1, h * w, 3}).expand({batch, h * w, 3}).contiguous();  // [B, h*w, 3]
}

}  // namespace untwist
