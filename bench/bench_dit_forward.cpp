// One DiT forward pass of a mid-size random FLUX model, float32 and bfloat16,
// with achieved GFLOP/s beside the matmul GFLOP/s measured in the same run.
//
//   build/bench_dit_forward [--image-tokens N] [--text-tokens N] [--repeats N] [--bf16-repeats N]
//
// bfloat16 runs once by default: on CPUs without native bfloat16 matmul,
// libtorch 1.13 computes it far slower than float32.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include "bench_support.h"
#include "io/weights.h"
#include "model/flux.h"
#include "model/flux_random.h"
#include "model/packing.h"
#include "util/blas_check.h"
#include "util/threads.h"

namespace {

using namespace untwist;
using bench::best_seconds;

// Multiply-adds x 2 of one forward pass: the linear layers of every token plus
// the two attention products, per batch row.
double forward_flops(const FluxConfig& c, int64_t img_tokens, int64_t txt_tokens) {
  const double h = static_cast<double>(c.hidden_size), mlp = static_cast<double>(c.mlp_hidden);
  const double length = static_cast<double>(img_tokens + txt_tokens);
  const double per_token_double = 2 * (3 * h * h + h * h + 2 * h * mlp);
  const double per_token_single = 2 * ((3 * h + mlp) * h + (h + mlp) * h);
  const double attention = 4 * length * length * h;
  return c.depth * (length * per_token_double + attention) +
         c.depth_single_blocks * (length * per_token_single + attention) +
         2 * img_tokens * h * (c.in_channels + c.out_channels) + 2 * txt_tokens * h * c.context_in_dim;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t img_tokens = 1024, txt_tokens = 128;
  int repeats = 3, bf16_repeats = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--image-tokens")) img_tokens = std::stoll(argv[i + 1]);
    if (!std::strcmp(argv[i], "--text-tokens")) txt_tokens = std::stoll(argv[i + 1]);
    if (!std::strcmp(argv[i], "--repeats")) repeats = std::stoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--bf16-repeats")) bf16_repeats = std::stoi(argv[i + 1]);
  }
  set_compute_threads(0);
  const BlasInfo blas = detect_blas();

  const FluxConfig config = bench::mid_size_config();
  const Weights weights = Weights::from_tensors(random_flux_weights(config, 0), "random");

  const int64_t side = static_cast<int64_t>(std::sqrt(static_cast<double>(img_tokens)));
  FluxInputs in{at::randn({1, side * side, config.in_channels}), at::randn({1, txt_tokens, config.context_in_dim}),
                at::randn({1, config.vec_in_dim}), at::full({1}, 0.5), at::full({1}, 3.5)};
  const at::Tensor txt_ids = at::zeros({1, txt_tokens, 3});
  const double flops = forward_flops(config, side * side, txt_tokens);

  std::printf("DiT forward: hidden %lld, %lld heads, %lld double + %lld single blocks, %lld image + %lld text tokens\n",
              (long long)config.hidden_size, (long long)config.num_heads, (long long)config.depth,
              (long long)config.depth_single_blocks, (long long)(side * side), (long long)txt_tokens);
  std::printf("threads %d, BLAS %s%s, best of %d (bfloat16: %d)\n\n", compute_threads(), blas.library.c_str(),
              blas.fast ? "" : " (reference BLAS: slow)", repeats, bf16_repeats);
  std::printf("%-9s %12s %12s %14s %8s\n", "dtype", "forward s", "GFLOP/s", "matmul GFLOP/s", "ratio");
  for (const at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
    const int runs = dtype == at::kFloat ? repeats : bf16_repeats;
    const FluxModel model(weights, config, dtype);
    const at::Tensor pe = model.position_table(txt_ids, image_position_ids(1, side, side));
    const double forward = best_seconds(runs, [&] { model.forward(in, pe); });

    const int64_t m = side * side + txt_tokens, k = config.hidden_size, n = config.mlp_hidden;
    const at::Tensor a = at::randn({m, k}).to(dtype), b = at::randn({n, k}).to(dtype);
    const double matmul = best_seconds(runs, [&] { at::linear(a, b); });
    const double matmul_rate = 2.0 * m * k * n / matmul / 1e9;
    const double forward_rate = flops / forward / 1e9;
    std::printf("%-9s %12.3f %12.1f %14.1f %7.0f%%\n", dtype == at::kFloat ? "float32" : "bfloat16", forward,
                forward_rate, matmul_rate, 100.0 * forward_rate / matmul_rate);
  }
  return 0;
}
