// The attention-map figure: one row per query point; columns: the target
// (with the query marked), its own-image maps (all / high / low pairs), the
// reference, and the reference maps; over the images when they are given.
#pragma once
#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "analysis/attention_maps.h"

namespace untwist {

// images: [B, 3, H, W] in [0, 1] or undefined (maps alone).
void write_attention_figure(const std::string& path, const std::vector<QueryMaps>& maps, const at::Tensor& images,
                            int64_t target, int64_t h, int64_t w, const std::string& title);

}  // namespace untwist
