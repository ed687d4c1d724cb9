// Memory of shared attention at FLUX.1's 1024x1024 shapes: one attention call
// of a 1 reference + 3 target batch, 4096 image + 512 text tokens per image,
// 24 heads of 128 (hidden 3072), untwisted in this block. Reports the peak
// resident memory beyond the q, k, v inputs.
//
//   build/bench_shared_memory [--heads N] [--image-side N]
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include "model/flux1/packing.h"
#include "model/rope.h"
#include "share/knob_schedule.h"
#include "share/shared_attention.h"
#include "util/threads.h"

namespace {

double peak_rss_gib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0 / 1024.0;  // kB -> GiB
}

}  // namespace

int main(int argc, char** argv) {
  using namespace untwist;
  int64_t heads = 24, side = 64, txt = 512, head_dim = 128, batch = 4;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--heads")) heads = std::stoll(argv[i + 1]);
    if (!std::strcmp(argv[i], "--image-side")) side = std::stoll(argv[i + 1]);
  }
  set_compute_threads(0);
  const int64_t length = txt + side * side;
  const RopeLayout rope{{16, 56, 56}, {AxisRole::Index, AxisRole::Row, AxisRole::Column}, 10000};
  AttentionCall call;
  call.block = BlockRef{"single", 0};
  call.q = at::randn({batch, heads, length, head_dim});
  call.k = at::randn({batch, heads, length, head_dim});
  call.v = at::randn({batch, heads, length, head_dim});
  call.pe = rope_table(at::cat({at::zeros({batch, txt, 3}), image_position_ids(batch, side, side)}, 1), rope.axes_dim,
                       rope.theta);
  call.image.assign(batch, ImageSpan{txt, side * side, side, side});
  call.rope = &rope;
  const double inputs_gib = 3.0 * call.q.numel() * 4 / (1024.0 * 1024 * 1024);
  const double before = peak_rss_gib();
  ShareSettings settings;
  settings.blocks = settings.blocks.bind({{"double", 19}, {"single", 38}}, "single");
  const SharedAttention hook(settings, knobs_at(settings, 0, 28), rope);
  const auto start = std::chrono::steady_clock::now();
  const at::Tensor out = hook.attend(call);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double after = peak_rss_gib();
  const double full_scores_gib = batch * heads * double(length) * (length + side * side) * 4 / (1024.0 * 1024 * 1024);
  std::printf("shared attention, %lld rows x %lld heads x %lld tokens (%lld image), head dim %lld, %d threads\n",
              (long long)batch, (long long)heads, (long long)length, (long long)(side * side), (long long)head_dim,
              compute_threads());
  std::printf("q, k, v inputs       %6.2f GiB\n", inputs_gib);
  std::printf("peak RSS before      %6.2f GiB\n", before);
  std::printf("peak RSS after       %6.2f GiB  (+%.2f GiB for the call, output %.2f GiB)\n", after, after - before,
              out.numel() * 4 / (1024.0 * 1024 * 1024));
  std::printf("all score matrices   %6.2f GiB  (what materialising them at once would take)\n", full_scores_gib);
  std::printf("time                 %6.1f s\n", seconds);
  return 0;
}
