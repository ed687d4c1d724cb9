// Prompts to images: text conditioning, seeded noise as the reference
// pipeline draws it, sampling (plain, or a style-aligned set with row 0 the
// reference), decoding.
#pragma once
#include <ATen/ATen.h>

#include <functional>
#include <string>
#include <vector>

#include "pipeline/components.h"
#include "share/share_settings.h"
#include "share/shared_attention.h"

namespace untwist {

struct ImageSettings {
  int64_t width = 1024, height = 1024;  // multiples of 2x the autoencoder's downscale (16 for FLUX.1)
  int steps = 0;                        // 0: 28 for guidance-embedded models, 4 otherwise
  double guidance = 3.5;
  int shift = -1;                       // -1: on for guidance-embedded models; 0 off; 1 on
  int64_t t5_max_length = 0;            // 0: 512 for guidance-embedded models, 256 otherwise

  int steps_for(const FluxConfig& config) const;
  bool shift_for(const FluxConfig& config) const;
  int64_t t5_length_for(const FluxConfig& config) const;
};

struct Conditioning {
  at::Tensor txt, txt_ids, y;  // [B, L, context], [B, L, 3], [B, vec]
};

// Loads the text encoders first when they are released, and releases them
// after when the pipeline is low_memory.
Conditioning encode_prompts(Pipeline& pipeline, const std::vector<std::string>& prompts, int64_t t5_max_length);

// [1, channels, latent_h, latent_w] float32: torch.randn in bfloat16 from a
// CPU generator seeded with `seed`, as the reference get_noise draws it
// (FLUX.1: latent_h = 2 ceil(H/16)).
at::Tensor seeded_noise(uint64_t seed, int64_t channels, int64_t latent_h, int64_t latent_w);

struct RenderRequest {
  std::vector<std::string> prompts;  // with sharing, prompts[0] is the reference's
  std::vector<uint64_t> seeds;       // one per prompt
  ImageSettings settings;
  const ShareSettings* share = nullptr;
  at::Tensor reference_image;        // [3, H, W] in [0, 1]: row 0 follows its latent
  SharedAttentionObserver* observer = nullptr;  // e.g. the copying meter
  std::function<void(int)> on_step;
};

// Packed-token grid (rows, columns) of an image of the request's size.
std::pair<int64_t, int64_t> token_grid_for(const Pipeline& pipeline, const ImageSettings& settings);

// -> images [B, 3, H, W] in [0, 1] (row 0 is the reference image itself when given).
at::Tensor render(Pipeline& pipeline, const RenderRequest& request);

}  // namespace untwist
