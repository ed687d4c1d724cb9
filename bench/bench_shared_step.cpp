// Cost of shared attention: one sampling step (one DiT forward) for a batch of
// 1 reference + 3 targets on a mid-size random model, unshared vs shared in
// the single-stream blocks (the default) and in all blocks, against the cost
// the extra reference keys should add.
//
//   build/bench_shared_step [--image-tokens N] [--text-tokens N] [--repeats N]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>

#include "bench_support.h"
#include "io/weights.h"
#include "model/flux1/flux.h"
#include "model/flux1/flux_random.h"
#include "model/attention.h"
#include "sample/dit_sampler.h"
#include "model/flux1/packing.h"
#include "share/knob_schedule.h"
#include "share/shared_attention.h"
#include "util/memory.h"
#include "util/threads.h"

namespace {

using namespace untwist;
using bench::best_seconds;

}  // namespace

int main(int argc, char** argv) {
  untwist::restart_with_sleeping_idle_threads(argv);
  untwist::keep_freed_memory_for_reuse();
  const bench::RunSize size = bench::parse_run_size(argc, argv);
  const int64_t img_tokens = size.image_tokens, txt_tokens = size.text_tokens;
  const int repeats = size.repeats;
  set_compute_threads(0);
  const FluxConfig config = bench::mid_size_config();
  const Weights weights = Weights::from_tensors(random_flux_weights(config, 0), "random");
  const FluxModel model(weights, config);

  const int64_t batch = 4, side = static_cast<int64_t>(std::sqrt(static_cast<double>(img_tokens)));
  const int64_t img = side * side, length = img + txt_tokens;
  const DitInputs in =
      bench::random_dit_inputs(model, config.context_in_dim, config.vec_in_dim, batch, side, side, txt_tokens);
  const at::Tensor pe = model.position_table(in);

  std::printf("one sampling step, 1 reference + 3 targets: hidden %lld, %lld heads, %lld double + %lld single blocks,"
              " %lld image + %lld text tokens, %d threads, best of %d\n\n",
              (long long)config.hidden_size, (long long)config.num_heads, (long long)config.depth,
              (long long)config.depth_single_blocks, (long long)img, (long long)txt_tokens, compute_threads(), repeats);
  const double plain = best_seconds(repeats, [&] { model.forward(in, pe); });

  // A target in a shared block scores and mixes L_img more keys than its own L:
  // its attention should cost L_img / L more. Plain attention's own time at
  // these shapes, measured here, turns that into seconds.
  const int64_t heads = config.num_heads, head_dim = config.head_dim();
  AttentionCall call;
  call.block = BlockRef{"single", 0};
  call.q = at::randn({batch, heads, length, head_dim});
  call.k = at::randn({batch, heads, length, head_dim});
  call.v = at::randn({batch, heads, length, head_dim});
  call.pe = pe;
  call.image.assign(batch, ImageSpan{txt_tokens, img, side, side});
  call.rope = &model.rope();
  const double attention = best_seconds(repeats, [&] { plain_attention(call); });
  const double extra_per_block = attention * (batch - 1) / batch * static_cast<double>(img) / length;

  std::printf("plain attention of one block: %.3f s (%.1f%% of the step over %lld blocks)\n\n", attention,
              100.0 * attention * (config.depth + config.depth_single_blocks) / plain,
              (long long)(config.depth + config.depth_single_blocks));
  std::printf("%-22s %10s %10s %20s\n", "sharing", "step s", "overhead", "expected overhead");
  std::printf("%-22s %10.3f %10s %20s\n", "none", plain, "-", "-");
  for (const char* blocks : {"single", "all"}) {
    ShareSettings settings;
    settings.blocks = SharePlan::parse(blocks);
    settings = bind_to(settings, model);
    const SharedAttention hook(settings, knobs_at(settings, 0, 28), model.rope());
    const double shared = best_seconds(repeats, [&] { model.forward(in, pe, &hook); });
    const int64_t shared_blocks = std::string(blocks) == "all" ? config.depth + config.depth_single_blocks
                                                               : config.depth_single_blocks;
    const double expected = shared_blocks * extra_per_block;
    std::printf("untwisted, %-11s %10.3f %9.1f%% %10.1f%% (%.2f s)\n", blocks, shared, 100.0 * (shared / plain - 1.0),
                100.0 * expected / plain, expected);
  }
  return 0;
}
