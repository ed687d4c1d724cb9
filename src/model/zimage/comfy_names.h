// ComfyUI's names for the Z-Image transformer (z_image_turbo_bf16.safetensors,
// its Lumina-2 style NextDiT): x_embedder / final_layer for the patch-2
// embedder and final layer, one fused attention.qkv per block, attention.out,
// attention.q_norm / k_norm. Converted to the reference's names, tensors as
// stored (float8 and quantised rows are split as bytes).
#pragma once
#include "io/weights.h"

namespace untwist {

// Names only are read: the fused embedder beside the learned pad token.
bool has_comfy_zimage_names(const Weights& weights);

// The weights under the reference's names; weights already named so come
// back as they are. DataError naming the file for a fused qkv whose rows do
// not split into three equal parts.
Weights zimage_reference_names(const Weights& weights);

}  // namespace untwist
