// Roofline of one DiT forward pass: achieved GFLOP/s beside the matmul GFLOP/s
// measured in the same run, and where the time goes (attention, the linear
// layers at matmul speed, the rest), for a random FLUX-shaped model.
//
//   build/bench_dit_forward [--shape mid|flux|klein|zimage] [--image-tokens N[,N...]] [--text-tokens N]
//                           [--repeats N] [--bf16-repeats N] [--threads N] [--device cpu|cuda]
//                           [--allocator reusing|system] [--per-block 0|1]
//
// --shape mid: hidden 1024, 16 heads, 2 double + 4 single blocks (default
// 1024 image + 128 text tokens). --shape flux: FLUX.1's real widths (hidden
// 3072, 24 heads of 128, MLP 12288) at a reduced depth of 1 double + 1 single
// block (default 1024 and 4096 image + 512 text tokens). --shape klein:
// FLUX.2 [klein] 4B's real widths (hidden 3072, 24 heads of 128, SwiGLU MLP
// 9216, 128 input channels, context 7680, 4 RoPE axes of 32, theta 2000, no
// guidance) at 1 double + 1 single block (default 1024 image + 512 text
// tokens). --shape zimage: Z-Image 6B's real widths (dim 3840, 30 heads of
// 128, SwiGLU feed-forward 10240, caption features 2560, 64-channel image
// tokens, RoPE axes 32/48/48 with theta 256) at 1 noise refiner + 1 context
// refiner + 1 layer (default 1024 and 4096 image + 100 caption tokens, each
// part padded to a multiple of 32 as the model does). The bfloat16 runs read
// weights stored in bfloat16, as the released checkpoints are. bfloat16 runs
// as often as float32 on CPUs with native bfloat16 matmul
// (util/cpu_features.h); elsewhere, where libtorch 1.13 computes it far
// slower than float32, once for mid and not at all for flux and klein by
// default. With --device cuda (a CUDA libtorch) the model and
// the matmul run on the GPU. --allocator system leaves libtorch's CPU
// allocator as it comes (large blocks unmapped on free) instead of untwist's
// reusing one. --per-block 1 (the default for the real widths) also times, in
// float32, models of the same weights with no block and with one block of each
// kind: the time outside the blocks, one block of each kind, and from them the
// released model's depth (FLUX.1 19 + 38, klein 4B 5 + 20 blocks, Z-Image 2
// noise + 2 context refiners + 30 layers).
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "bench_support.h"
#include "io/weights.h"
#include "model/flux1/flux.h"
#include "model/flux1/flux_random.h"
#include "model/flux2/flux2.h"
#include "model/flux2/flux2_random.h"
#include "model/zimage/zimage.h"
#include "model/zimage/zimage_random.h"
#include "util/blas_check.h"
#include "util/cpu_features.h"
#include "util/device.h"
#include "util/memory.h"
#include "util/threads.h"

namespace {

using namespace untwist;
using bench::best_seconds;
using Clock = std::chrono::steady_clock;

// What the FLOP count and the extrapolation need of a model, for either family.
struct DitShape {
  std::string name;                  // the released model of these widths
  int64_t hidden = 0, heads = 0;
  int64_t mlp = 0;                   // the MLP's inner width
  int64_t mlp_in = 0;                // its first linear's output: mlp, or 2 mlp for a SwiGLU
  int64_t depth = 0, single = 0;     // blocks in this run
  int64_t in_channels = 0, out_channels = 0, context = 0;
  int64_t vec = 0;                   // pooled text vector width; 0: none
  bool guidance = false;
  bool shared_modulation = false;    // FLUX.2: one modulation per block kind, computed once per forward
};

// A random model of a shape, buildable at any depth from the same weights:
// `blocks` holds how many blocks of each kind, in the order of `kinds`.
struct Subject {
  DitShape shape;
  std::vector<std::string> kinds;
  std::vector<int64_t> run_blocks, full_blocks;  // of each kind: in this run, in the released model
  std::function<std::unique_ptr<DiffusionTransformer>(const std::vector<int64_t>& blocks, at::ScalarType dtype)> build;
  // FLOPs of the linear layers and of the attention products of one forward
  // pass of the run's depth, per batch row.
  std::function<double(int64_t img_tokens, int64_t txt_tokens)> linear_flops, attention_flops;
};

// Multiply-adds x 2 of the linear layers of one forward pass (every token, and
// the vectors of the time, text and guidance embedders and the modulations),
// and of the two attention products, per batch row.
double linear_flops(const DitShape& s, int64_t img_tokens, int64_t txt_tokens) {
  const double h = static_cast<double>(s.hidden), mlp = static_cast<double>(s.mlp), mlp_in = static_cast<double>(s.mlp_in);
  const double length = static_cast<double>(img_tokens + txt_tokens);
  const double per_token_double = 2 * (3 * h * h + h * h + h * mlp_in + mlp * h);
  const double per_token_single = 2 * ((3 * h + mlp_in) * h + (h + mlp) * h);
  const double tokens = s.depth * length * per_token_double + s.single * length * per_token_single +
                        2 * img_tokens * h * (s.in_channels + s.out_channels) + 2 * txt_tokens * h * s.context;
  const double embedder = 2 * (256 * h + h * h);
  double vector = embedder + (s.guidance ? embedder : 0) + (s.vec > 0 ? 2 * (s.vec * h + h * h) : 0);
  const double double_modulation = 2 * 12 * h * h, single_modulation = 2 * 3 * h * h;
  vector += s.shared_modulation ? double_modulation + single_modulation
                                : s.depth * double_modulation + s.single * single_modulation;
  return tokens + vector + 2 * 2 * h * h;  // + the final layer's modulation
}
double attention_flops(const DitShape& s, int64_t img_tokens, int64_t txt_tokens) {
  const double length = static_cast<double>(img_tokens + txt_tokens);
  return (s.depth + s.single) * 4 * length * length * static_cast<double>(s.hidden);
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

// The random weights as a checkpoint stores them for each compute dtype:
// float32 for float32 runs, bfloat16 (as the released files are) for
// bfloat16 runs, so that neither run converts its matrices at each call.
struct RandomWeights {
  std::shared_ptr<const Weights> float32, bfloat16;
  explicit RandomWeights(const TensorMap& tensors) {
    TensorMap narrow;
    for (const auto& [name, tensor] : tensors) narrow[name] = tensor.to(at::kBFloat16);
    float32 = std::make_shared<const Weights>(Weights::from_tensors(tensors, "random"));
    bfloat16 = std::make_shared<const Weights>(Weights::from_tensors(std::move(narrow), "random"));
  }
  const Weights& in(at::ScalarType dtype) const { return dtype == at::kBFloat16 ? *bfloat16 : *float32; }
};

FluxConfig flux_width_config() {
  FluxConfig config;  // FLUX.1's defaults: hidden 3072, 24 heads, MLP 12288, axes 16/56/56
  config.depth = 1;
  config.depth_single_blocks = 1;
  return config;
}

Flux2Config klein_width_config() {
  Flux2Config config;  // FLUX.2's defaults: 128 input channels, axes 32/32/32/32, theta 2000
  config.hidden_size = 3072;
  config.num_heads = 24;
  config.mlp_hidden = 9216;
  config.context_in_dim = 7680;
  config.guidance_embed = false;
  config.depth = 1;
  config.depth_single_blocks = 1;
  return config;
}

Subject flux1_subject(const FluxConfig& config, std::string name, int64_t full_depth, int64_t full_single,
                      at::Device device) {
  const auto weights = std::make_shared<const RandomWeights>(random_flux_weights(config, 0));
  DitShape s{std::move(name), config.hidden_size, config.num_heads, config.mlp_hidden, config.mlp_hidden,
             config.depth, config.depth_single_blocks, config.in_channels,
             config.out_channels, config.context_in_dim, config.vec_in_dim, config.guidance_embed, false};
  return {s,
          {"double", "single"},
          {s.depth, s.single},
          {full_depth, full_single},
          [=](const std::vector<int64_t>& blocks, at::ScalarType dtype) -> std::unique_ptr<DiffusionTransformer> {
            FluxConfig c = config;
            c.depth = blocks[0];
            c.depth_single_blocks = blocks[1];
            return std::make_unique<FluxModel>(weights->in(dtype), c, dtype, device);
          },
          [=](int64_t img, int64_t txt) { return linear_flops(s, img, txt); },
          [=](int64_t img, int64_t txt) { return attention_flops(s, img, txt); }};
}

Subject flux2_subject(const Flux2Config& config, std::string name, int64_t full_depth, int64_t full_single,
                      at::Device device) {
  const auto weights = std::make_shared<const RandomWeights>(random_flux2_weights(config, 0));
  DitShape s{std::move(name), config.hidden_size, config.num_heads, config.mlp_hidden, 2 * config.mlp_hidden,
             config.depth, config.depth_single_blocks, config.in_channels,
             config.out_channels, config.context_in_dim, 0, config.guidance_embed, true};
  return {s,
          {"double", "single"},
          {s.depth, s.single},
          {full_depth, full_single},
          [=](const std::vector<int64_t>& blocks, at::ScalarType dtype) -> std::unique_ptr<DiffusionTransformer> {
            Flux2Config c = config;
            c.depth = blocks[0];
            c.depth_single_blocks = blocks[1];
            return std::make_unique<Flux2Model>(weights->in(dtype), c, dtype, device);
          },
          [=](int64_t img, int64_t txt) { return linear_flops(s, img, txt); },
          [=](int64_t img, int64_t txt) { return attention_flops(s, img, txt); }};
}

ZImageConfig zimage_width_config() {
  ZImageConfig config;  // Z-Image 6B's defaults: dim 3840, 30 heads, FFN 10240, captions 2560, axes 32/48/48
  config.n_noise_refiner = 1;
  config.n_context_refiner = 1;
  config.n_layers = 1;
  return config;
}

// Z-Image pads the image tokens and the caption each to a multiple of 32.
int64_t zimage_padded(int64_t tokens) { return (tokens + 31) / 32 * 32; }

Subject zimage_subject(const ZImageConfig& config, at::Device device) {
  const auto weights = std::make_shared<const RandomWeights>(random_zimage_weights(config, 0));
  DitShape s{"Z-Image 6B", config.dim, config.num_heads, config.ffn_hidden, config.ffn_hidden, 0, 0,
             config.token_channels(), config.token_channels(), config.cap_feat_dim, 0, false, false};
  const std::vector<int64_t> run{config.n_noise_refiner, config.n_context_refiner, config.n_layers};
  const auto linear = [config, run](int64_t img, int64_t txt) {
    const double d = static_cast<double>(config.dim), f = static_cast<double>(config.ffn_hidden);
    const double image = static_cast<double>(zimage_padded(img)), caption = static_cast<double>(zimage_padded(txt));
    const double per_token = 2 * (4 * d * d + 3 * d * f);  // q, k, v, out; w1, w3, w2
    const double tokens = per_token * (run[0] * image + run[1] * caption + run[2] * (image + caption)) +
                          2 * img * d * 2 * config.token_channels() + 2 * txt * d * config.cap_feat_dim;
    const double time = 2 * (256.0 * config.time_hidden + config.time_hidden * config.adaln_dim);
    const double modulation = 2 * config.adaln_dim * d * (4 * (run[0] + run[2]) + 1);
    return tokens + time + modulation;
  };
  const auto attention = [config, run](int64_t img, int64_t txt) {
    const double d = static_cast<double>(config.dim);
    const double image = static_cast<double>(zimage_padded(img)), caption = static_cast<double>(zimage_padded(txt));
    return 4 * d * (run[0] * image * image + run[1] * caption * caption + run[2] * (image + caption) * (image + caption));
  };
  return {s,
          {"noise refiner", "context refiner", "layer"},
          run,
          {2, 2, 30},
          [=](const std::vector<int64_t>& blocks, at::ScalarType dtype) -> std::unique_ptr<DiffusionTransformer> {
            ZImageConfig c = config;
            c.n_noise_refiner = blocks[0];
            c.n_context_refiner = blocks[1];
            c.n_layers = blocks[2];
            return std::make_unique<ZImageModel>(weights->in(dtype), c, dtype, device);
          },
          linear, attention};
}

std::vector<int64_t> parse_list(const std::string& text) {
  std::vector<int64_t> values;
  std::stringstream stream(text);
  for (std::string item; std::getline(stream, item, ',');) values.push_back(std::stoll(item));
  return values;
}

// Random inputs on a side x side grid; the best forward time and, through
// `attention`, the best time spent in attention. `between` runs after each
// timed forward (untimed here): a measurement that should see the machine as
// the forwards do, which on a noisy machine drifts from second to second.
double time_forward(const DiffusionTransformer& model, const DitShape& s, int64_t side, int64_t txt_tokens, int runs,
                    double* attention = nullptr, const std::function<void()>& between = {}) {
  at::manual_seed(0);
  const DitInputs in = bench::random_dit_inputs(model, s.context, s.vec, 1, side, side, txt_tokens);
  const at::Tensor pe = model.position_table(in);
  TimedAttention timed;
  double best_attention = 1e30, forward = 1e30;
  for (int i = runs > 1 ? -1 : 0; i < runs; ++i) {  // a warm-up call first when runs > 1
    timed.seconds = 0;
    forward = std::min(forward, best_seconds(1, [&] { model.forward(in, pe, &timed); }));
    best_attention = std::min(best_attention, timed.seconds);
    if (between) between();
  }
  if (attention) *attention = best_attention;
  return forward;
}

}  // namespace

int main(int argc, char** argv) {
  untwist::restart_with_sleeping_idle_threads(argv);
  std::string shape = "mid";
  std::string image_tokens, text_tokens, device_name = "cpu", allocator = "reusing";
  int repeats = 3, bf16_repeats = -1, threads = 0, per_block = -1;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--shape")) shape = argv[i + 1];
    if (!std::strcmp(argv[i], "--image-tokens")) image_tokens = argv[i + 1];
    if (!std::strcmp(argv[i], "--text-tokens")) text_tokens = argv[i + 1];
    if (!std::strcmp(argv[i], "--repeats")) repeats = std::stoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--bf16-repeats")) bf16_repeats = std::stoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--threads")) threads = std::stoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--device")) device_name = argv[i + 1];
    if (!std::strcmp(argv[i], "--allocator")) allocator = argv[i + 1];
    if (!std::strcmp(argv[i], "--per-block")) per_block = std::stoi(argv[i + 1]);
  }
  if (allocator != "reusing" && allocator != "system") {
    std::fprintf(stderr, "error: --allocator is reusing or system\n");
    return 2;
  }
  if (allocator == "reusing") untwist::keep_freed_memory_for_reuse();
  const bool flux = shape == "flux", klein = shape == "klein", zimage = shape == "zimage";
  const bool real_widths = flux || klein || zimage;
  if (!real_widths && shape != "mid") {
    std::fprintf(stderr, "error: --shape is mid, flux, klein or zimage\n");
    return 2;
  }
  if (image_tokens.empty()) image_tokens = flux || zimage ? "1024,4096" : "1024";
  const int64_t txt_tokens =
      text_tokens.empty() ? (zimage ? 100 : real_widths ? 512 : 128) : std::stoll(text_tokens);
  if (bf16_repeats < 0) bf16_repeats = bf16_support().native() ? repeats : real_widths ? 0 : 1;
  if (per_block < 0) per_block = real_widths ? 1 : 0;
  set_compute_threads(threads);  // 0: all cores
  const at::Device device = parse_device(device_name);
  const BlasInfo blas = detect_blas();

  const Subject subject = zimage ? zimage_subject(zimage_width_config(), device)
                          : klein ? flux2_subject(klein_width_config(), "FLUX.2 [klein] 4B", 5, 20, device)
                          : flux  ? flux1_subject(flux_width_config(), "FLUX.1 [dev]", 19, 38, device)
                                  : flux1_subject(bench::mid_size_config(), "mid-size", 2, 4, device);
  const DitShape& s = subject.shape;
  // "1 double + 1 single": the blocks of each kind, in this run or the released model.
  const auto depth_text = [&](const std::vector<int64_t>& blocks) {
    std::string text;
    for (size_t i = 0; i < blocks.size(); ++i) {
      text += (i ? " + " : "") + std::to_string(blocks[i]) + " " + subject.kinds[i];
    }
    return text;
  };
  std::printf("DiT forward: hidden %lld, %lld heads, MLP %lld%s, %s blocks, %lld text tokens\n", (long long)s.hidden,
              (long long)s.heads, (long long)s.mlp, s.mlp_in == s.mlp && !zimage ? "" : " (SwiGLU)",
              depth_text(subject.run_blocks).c_str(), (long long)txt_tokens);
  const char* wait_policy = std::getenv("OMP_WAIT_POLICY");
  const char* blas_timeout = std::getenv("OPENBLAS_THREAD_TIMEOUT");
  std::printf("threads %d, BLAS %s%s, bfloat16 matmul %s, OpenMP wait policy %s, OpenBLAS thread timeout %s, %s "
              "allocator, best of %d (bfloat16: %d)\n\n",
              compute_threads(), blas.library.c_str(), blas.fast ? "" : " (reference BLAS: slow)",
              describe(bf16_support()).c_str(), wait_policy ? wait_policy : "default",
              blas_timeout ? blas_timeout : "default", allocator.c_str(), repeats, bf16_repeats);
  std::printf("%-9s %7s %10s %9s %9s %7s %11s %12s %10s\n", "dtype", "tokens", "forward s", "GFLOP/s", "matmul",
              "ratio", "attention s", "linear@mm s", "rest s");
  for (const at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
    const int runs = dtype == at::kFloat ? repeats : bf16_repeats;
    if (runs == 0) continue;
    const auto model = subject.build(subject.run_blocks, dtype);
    for (const int64_t requested : parse_list(image_tokens)) {
      const int64_t side = static_cast<int64_t>(std::sqrt(static_cast<double>(requested)));
      const int64_t img_tokens = side * side;
      // The matmul the MLP's first layer does (the largest product of the
      // pass), timed after each forward.
      const int64_t m = img_tokens + txt_tokens, k = s.hidden, n = s.mlp_in;
      const at::Tensor a = at::randn({m, k}).to(device, dtype), b = at::randn({n, k}).to(device, dtype);
      double matmul = 1e30;
      const auto time_matmul = [&] {
        matmul = std::min(matmul, best_seconds(1, [&] { bench::wait_for(at::linear(a, b)); }));
      };
      double attention = 0;
      const double forward = time_forward(*model, s, side, txt_tokens, runs, &attention, time_matmul);
      const double matmul_rate = 2.0 * m * k * n / matmul / 1e9;
      const double linear = subject.linear_flops(img_tokens, txt_tokens);
      const double flops = linear + subject.attention_flops(img_tokens, txt_tokens);
      const double forward_rate = flops / forward / 1e9;
      const double linear_at_matmul = linear / (matmul_rate * 1e9);
      std::printf("%-9s %7lld %10.3f %9.1f %9.1f %6.0f%% %11.3f %12.3f %10.3f\n",
                  dtype == at::kFloat ? "float32" : "bfloat16", (long long)img_tokens, forward, forward_rate,
                  matmul_rate, 100.0 * forward_rate / matmul_rate, attention, linear_at_matmul,
                  forward - attention - linear_at_matmul);
    }
  }
  std::printf("\nattention s: time inside attention (RoPE, scores, softmax, values); linear@mm s: the linear\n"
              "layers' FLOPs at the measured matmul rate; rest: layer norms, modulation, activations, copies.\n");
  if (per_block == 0) return 0;

  std::printf("\nPer block, float32, best of %d: models of the same weights with no block and with one block of\n"
              "each kind. %s (%s blocks) = outside + the blocks, extrapolated.\n\n",
              repeats, s.name.c_str(), depth_text(subject.full_blocks).c_str());
  std::printf("%7s %10s", "tokens", "outside s");
  for (const std::string& kind : subject.kinds) std::printf(" %*s s", static_cast<int>(kind.size()), kind.c_str());
  std::printf(" %16s\n", "full model s");
  const std::vector<int64_t> none(subject.kinds.size(), 0);
  const auto outside_model = subject.build(none, at::kFloat);
  std::vector<std::unique_ptr<DiffusionTransformer>> one_block_models;
  for (size_t i = 0; i < subject.kinds.size(); ++i) {
    std::vector<int64_t> one = none;
    one[i] = 1;
    one_block_models.push_back(subject.build(one, at::kFloat));
  }
  for (const int64_t requested : parse_list(image_tokens)) {
    const int64_t side = static_cast<int64_t>(std::sqrt(static_cast<double>(requested)));
    const double outside = time_forward(*outside_model, s, side, txt_tokens, repeats);
    std::printf("%7lld %10.3f", (long long)(side * side), outside);
    double full = outside;
    for (size_t i = 0; i < subject.kinds.size(); ++i) {
      const double block = time_forward(*one_block_models[i], s, side, txt_tokens, repeats) - outside;
      std::printf(" %*.3f", static_cast<int>(subject.kinds[i].size()) + 2, block);
      full += static_cast<double>(subject.full_blocks[i]) * block;
    }
    std::printf(" %16.1f\n", full);
    std::fflush(stdout);
  }
  return 0;
}
