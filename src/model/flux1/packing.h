// FLUX packs latents 2x2: b c (h 2) (w 2) -> b (h w) (c 2 2), and gives each
// packed token the position (0, row, col).
#pragma once
#include <ATen/ATen.h>

namespace untwist {

// [B, C, H, W] (H, W even) -> [B, H/2 * W/2, C*4]
at::Tensor pack_latents(const at::Tensor& latents);

// [B, h*w, C*4] -> [B, C, 2h, 2w]
at::Tensor unpack_latents(const at::Tensor& packed, int64_t h, int64_t w);

// -> [B, h*w, 3] float32 rows (0, row, col)
at::Tensor image_position_ids(int64_t batch, int64_t h, int64_t w);

}  // namespace untwist
