// Attention at FLUX.1's 1024x1024 shapes (24 heads of 128, 4096 image + 512
// text tokens): the model's chunked path (score chunks of 8 MiB) against naive
// attention (one float32 score matrix per row, about 2 GiB here), plain and
// shared (a target's own keys plus the reference's image keys with
// untwisting's per-channel scales), side by side.
//
// --dtype bf16 runs bfloat16 operands (on an AVX512-BF16 CPU the model's
// path is then the fused kernel) against libtorch's bfloat16 products and
// softmax in one piece; --heads and --dim choose the problem.
//
//   build/bench_attention [--tokens N] [--repeats N] [--dtype f32|bf16] [--heads N] [--dim N] [--threads N]
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>

#include "bench_support.h"
#include "model/attention.h"
#include "util/memory.h"
#include "util/threads.h"

int main(int argc, char** argv) {
  untwist::restart_with_sleeping_idle_threads(argv);
  untwist::keep_freed_memory_for_reuse();
  using namespace untwist;
  int64_t tokens = 4608;
  int repeats = 2;
  int64_t heads = 24, dim = 128;
  int threads = 0;
  at::ScalarType dtype = at::kFloat;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--tokens")) tokens = std::stoll(argv[i + 1]);
    if (!std::strcmp(argv[i], "--repeats")) repeats = std::stoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--heads")) heads = std::stoll(argv[i + 1]);
    if (!std::strcmp(argv[i], "--dim")) dim = std::stoll(argv[i + 1]);
    if (!std::strcmp(argv[i], "--threads")) threads = std::stoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--dtype")) dtype = std::string(argv[i + 1]) == "bf16" ? at::kBFloat16 : at::kFloat;
  }
  set_compute_threads(threads);
  const int64_t ref_tokens = tokens * 8 / 9;  // the reference's image tokens
  at::manual_seed(0);
  const auto operand = [&](int64_t length) { return at::randn({1, heads, length, dim}).to(dtype); };
  const at::Tensor q = operand(tokens), k = operand(tokens), v = operand(tokens);
  const at::Tensor ref_k = operand(ref_tokens), ref_v = operand(ref_tokens);
  const at::Tensor scale = at::linspace(0.3, 1.5, dim).to(dtype);

  std::printf("attention, 1 row x %lld heads x %lld queries, head dim %lld, %s, threads %d, best of %d\n\n",
              (long long)heads, (long long)tokens, (long long)dim, dtype == at::kFloat ? "float32" : "bfloat16",
              compute_threads(), repeats);
  std::printf("%-30s %10s %10s %10s %12s\n", "case", "chunked s", "naive s", "speed-up", "max |diff|");
  const auto naive = [&](const at::Tensor& keys, const at::Tensor& values) {
    const at::Tensor scores = at::matmul(q, keys.transpose(2, 3)) / std::sqrt(static_cast<double>(dim));
    return at::matmul(at::softmax(scores, -1), values);  // [1, H, Lq, D]
  };
  const auto report = [&](const char* label, const at::Tensor& keys, const at::Tensor& values) {
    at::Tensor a, b;
    const double chunked_s = bench::best_seconds(repeats, [&] { a = scaled_dot_product_attention(q, keys, values); });
    const double naive_s = bench::best_seconds(repeats, [&] { b = naive(keys, values); });
    std::printf("%-30s %10.3f %10.3f %9.2fx %12.2e\n", label, chunked_s, naive_s, naive_s / chunked_s,
                (a.to(at::kFloat) - b.to(at::kFloat)).abs().max().item<double>());
  };
  report("plain", k, v);
  report("shared (own + scaled ref keys)", at::cat({k, ref_k * scale}, 2), at::cat({v, ref_v}, 2));
  std::printf("\nshared / plain cost expected from the key count alone: %.2fx\n",
              static_cast<double>(tokens + ref_tokens) / tokens);
  return 0;
}
