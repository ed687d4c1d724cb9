// What the benchmarks share: best-of-N timing and the mid-size random model.
#pragma once
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>

#include <ATen/ATen.h>

#include "model/dit.h"
#include "model/flux1/flux_config.h"

namespace untwist::bench {

// Best wall time of `repeats` calls, after one warm-up call when repeats > 1.
template <typename Fn>
double best_seconds(int repeats, Fn&& fn) {
  using Clock = std::chrono::steady_clock;
  if (repeats > 1) fn();
  double best = 1e30;
  for (int i = 0; i < repeats; ++i) {
    const auto start = Clock::now();
    fn();
    best = std::min(best, std::chrono::duration<double>(Clock::now() - start).count());
  }
  return best;
}

// The size of a benchmark run: --image-tokens N, --text-tokens N, --repeats N.
struct RunSize {
  int64_t image_tokens = 1024;
  int64_t text_tokens = 128;
  int repeats = 2;
};

// Blocks until `result` is computed (work off the CPU is asynchronous).
inline void wait_for(const at::Tensor& result) {
  if (!result.device().is_cpu()) result.flatten()[0].item<float>();
}

inline RunSize parse_run_size(int argc, char** argv, RunSize size = {}) {
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--image-tokens")) size.image_tokens = std::stoll(argv[i + 1]);
    if (!std::strcmp(argv[i], "--text-tokens")) size.text_tokens = std::stoll(argv[i + 1]);
    if (!std::strcmp(argv[i], "--repeats")) size.repeats = std::stoi(argv[i + 1]);
  }
  return size;
}

// hidden 1024, 16 heads of 64, 2 double + 4 single blocks, FLUX.1's other widths.
inline FluxConfig mid_size_config() {
  FluxConfig config;
  config.hidden_size = 1024;
  config.num_heads = 16;
  config.mlp_hidden = 4096;
  config.depth = 2;
  config.depth_single_blocks = 4;
  config.axes_dim = {8, 28, 28};
  return config;
}

// Random inputs of a FLUX-family forward pass: `batch` rows of an h x w token
// grid and `text_tokens` text tokens (a pooled vector when the model takes one).
inline DitInputs random_dit_inputs(const DiffusionTransformer& model, int64_t context, int64_t vec, int64_t batch,
                                   int64_t h, int64_t w, int64_t text_tokens) {
  DitInputs in;
  in.img = at::randn({batch, h * w, model.in_channels()});
  in.img_ids = model.image_ids(batch, h, w);
  in.txt = at::randn({batch, text_tokens, context});
  in.txt_ids = model.text_ids(batch, text_tokens);
  if (vec > 0) in.y = at::randn({batch, vec});
  in.timesteps = at::full({batch}, 0.5);
  in.guidance = at::full({batch}, 3.5);
  return in;
}

}  // namespace untwist::bench
