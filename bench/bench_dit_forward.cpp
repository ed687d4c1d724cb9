// Roofline of one DiT forward pass: achieved GFLOP/s beside the matmul GFLOP/s
// measured in the same run, and where the time goes (attention, the linear
// layers at matmul speed, the rest), for a random FLUX-shaped model.
//
//   build/bench_dit_forward [--shape mid|flux] [--image-tokens N[,N...]] [--text-tokens N]
//                           [--repeats N] [--bf16-repeats N] [--threads N] [--device cpu|cuda]
//                           [--allocator reusing|system]
//
// --shape mid: hidden 1024, 16 heads, 2 double + 4 single blocks (default
// 1024 image + 128 text tokens). --shape flux: FLUX.1's real widths (hidden
// 3072, 24 heads of 128, MLP 12288) at a reduced depth of 1 double + 1 single
// block (default 1024 and 4096 image + 512 text tokens). bfloat16 runs once
// for mid and not at all for flux by default: on CPUs without native
// bfloat16 matmul, libtorch 1.13 computes it far slower than float32. With
// --device cuda (a CUDA libtorch) the model and the matmul run on the GPU.
// --allocator system leaves libtorch's CPU allocator as it comes (large
// blocks unmapped on free) instead of untwist's reusing one.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>

#include "bench_support.h"
#include "io/weights.h"
#include "model/flux1/flux.h"
#include "model/flux1/flux_random.h"
#include "model/flux1/packing.h"
#include "util/blas_check.h"
#include "util/device.h"
#include "util/memory.h"
#include "util/threads.h"

namespace {

using namespace untwist;
using bench::best_seconds;
using Clock = std::chrono::steady_clock;

// Multiply-adds x 2 of the linear layers of one forward pass (every token),
// and of the two attention products, per batch row.
double linear_flops(const FluxConfig& c, int64_t img_tokens, int64_t txt_tokens) {
  const double h = static_cast<double>(c.hidden_size), mlp = static_cast<double>(c.mlp_hidden);
  const double length = static_cast<double>(img_tokens + txt_tokens);
  const double per_token_double = 2 * (3 * h * h + h * h + 2 * h * mlp);
  const double per_token_single = 2 * ((3 * h + mlp) * h + (h + mlp) * h);
  return c.depth * length * per_token_double + c.depth_single_blocks * length * per_token_single +
         2 * img_tokens * h * (c.in_channels + c.out_channels) + 2 * txt_tokens * h * c.context_in_dim;
}
double attention_flops(const FluxConfig& c, int64_t img_tokens, int64_t txt_tokens) {
  const double length = static_cast<double>(img_tokens + txt_tokens);
  return (c.depth + c.depth_single_blocks) * 4 * length * length * static_cast<double>(c.hidden_size);
}

// Plain attention, timing itself.
class TimedAttention : public AttentionHook {
 public:
  at::Tensor attend(const AttentionCall& call) const override {
    const auto start = Clock::now();
    at::Tensor out = plain_attention(call);
    bench::wait_for(out);
    seconds += std::chrono::duration<double>(Clock::now() - start).count();
    return out;
  }
  mutable double seconds = 0;
};

FluxConfig flux_width_config() {
  FluxConfig config;  // FLUX.1's defaults: hidden 3072, 24 heads, MLP 12288, axes 16/56/56
  config.depth = 1;
  config.depth_single_blocks = 1;
  return config;
}

std::vector<int64_t> parse_list(const std::string& text) {
  std::vector<int64_t> values;
  std::stringstream stream(text);
  for (std::string item; std::getline(stream, item, ',');) values.push_back(std::stoll(item));
  return values;
}

}  // namespace

int main(int argc, char** argv) {
  untwist::restart_with_sleeping_idle_threads(argv);
  std::string shape = "mid";
  std::string image_tokens, text_tokens, device_name = "cpu", allocator = "reusing";
  int repeats = 3, bf16_repeats = -1, threads = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--shape")) shape = argv[i + 1];
    if (!std::strcmp(argv[i], "--image-tokens")) image_tokens = argv[i + 1];
    if (!std::strcmp(argv[i], "--text-tokens")) text_tokens = argv[i + 1];
    if (!std::strcmp(argv[i], "--repeats")) repeats = std::stoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--bf16-repeats")) bf16_repeats = std::stoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--threads")) threads = std::stoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--device")) device_name = argv[i + 1];
    if (!std::strcmp(argv[i], "--allocator")) allocator = argv[i + 1];
  }
  if (allocator != "reusing" && allocator != "system") {
    std::fprintf(stderr, "error: --allocator is reusing or system\n");
    return 2;
  }
  if (allocator == "reusing") untwist::keep_freed_memory_for_reuse();
  const bool flux = shape == "flux";
  if (!flux && shape != "mid") {
    std::fprintf(stderr, "error: --shape is mid or flux\n");
    return 2;
  }
  if (image_tokens.empty()) image_tokens = flux ? "1024,4096" : "1024";
  const int64_t txt_tokens = text_tokens.empty() ? (flux ? 512 : 128) : std::stoll(text_tokens);
  if (bf16_repeats < 0) bf16_repeats = flux ? 0 : 1;
  set_compute_threads(threads);  // 0: all cores
  const at::Device device = parse_device(device_name);
  const BlasInfo blas = detect_blas();

  const FluxConfig config = flux ? flux_width_config() : bench::mid_size_config();
  const Weights weights = Weights::from_tensors(random_flux_weights(config, 0), "random");
  std::printf("DiT forward: hidden %lld, %lld heads, MLP %lld, %lld double + %lld single blocks, %lld text tokens\n",
              (long long)config.hidden_size, (long long)config.num_heads, (long long)config.mlp_hidden,
              (long long)config.depth, (long long)config.depth_single_blocks, (long long)txt_tokens);
  const char* wait_policy = std::getenv("OMP_WAIT_POLICY");
  const char* blas_timeout = std::getenv("OPENBLAS_THREAD_TIMEOUT");
  std::printf("threads %d, BLAS %s%s, OpenMP wait policy %s, OpenBLAS thread timeout %s, %s allocator, best of %d "
              "(bfloat16: %d)\n\n",
              compute_threads(), blas.library.c_str(), blas.fast ? "" : " (reference BLAS: slow)",
              wait_policy ? wait_policy : "default", blas_timeout ? blas_timeout : "default", allocator.c_str(),
              repeats, bf16_repeats);
  std::printf("%-9s %7s %10s %9s %9s %7s %11s %12s %10s\n", "dtype", "tokens", "forward s", "GFLOP/s", "matmul",
              "ratio", "attention s", "linear@mm s", "rest s");
  for (const at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
    const int runs = dtype == at::kFloat ? repeats : bf16_repeats;
    if (runs == 0) continue;
    const FluxModel model(weights, config, dtype, device);
    for (const int64_t requested : parse_list(image_tokens)) {
      const int64_t side = static_cast<int64_t>(std::sqrt(static_cast<double>(requested)));
      const int64_t img_tokens = side * side;
      at::manual_seed(0);
      const DitInputs in =
          bench::random_dit_inputs(model, config.context_in_dim, config.vec_in_dim, 1, side, side, txt_tokens);
      const at::Tensor pe = model.position_table(in);
      TimedAttention timed;
      double attention = 1e30;
      const double forward = best_seconds(runs, [&] {
        timed.seconds = 0;
        model.forward(in, pe, &timed);
        attention = std::min(attention, timed.seconds);
      });

      // The matmul the MLP's first layer does: the largest product of the pass.
      const int64_t m = img_tokens + txt_tokens, k = config.hidden_size, n = config.mlp_hidden;
      const at::Tensor a = at::randn({m, k}).to(device, dtype), b = at::randn({n, k}).to(device, dtype);
      const double matmul = best_seconds(runs, [&] { bench::wait_for(at::linear(a, b)); });
      const double matmul_rate = 2.0 * m * k * n / matmul / 1e9;
      const double flops = linear_flops(config, img_tokens, txt_tokens) + attention_flops(config, img_tokens, txt_tokens);
      const double forward_rate = flops / forward / 1e9;
      const double linear_at_matmul = linear_flops(config, img_tokens, txt_tokens) / (matmul_rate * 1e9);
      std::printf("%-9s %7lld %10.3f %9.1f %9.1f %6.0f%% %11.3f %12.3f %10.3f\n",
                  dtype == at::kFloat ? "float32" : "bfloat16", (long long)img_tokens, forward, forward_rate,
                  matmul_rate, 100.0 * forward_rate / matmul_rate, attention, linear_at_matmul,
                  forward - attention - linear_at_matmul);
    }
  }
  std::printf("\nattention s: time inside attention (RoPE, scores, softmax, values); linear@mm s: the linear\n"
              "layers' FLOPs at the measured matmul rate; rest: layer norms, modulation, activations, copies.\n");
  return 0;
}
