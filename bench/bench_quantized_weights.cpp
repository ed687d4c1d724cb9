// The DiT with its matrices stored as bfloat16, float8 E4M3, Q8_0, Q4_0 and
// Q4_K, decoded layer by layer during the forward pass: weight memory, forward
// time (float32 compute) and the velocity's relative error against the
// bfloat16 model, side by side for one random mid-size model; then the time
// to decode one FLUX-width matrix for bfloat16 compute, straight into
// bfloat16 against through a float32 copy.
//
//   build/bench_quantized_weights [--image-tokens N] [--text-tokens N] [--repeats N]
#include <cstdio>
#include <string>

#include "bench_support.h"
#include "io/stored_tensor.h"
#include "io/weights.h"
#include "model/flux1/flux.h"
#include "model/flux1/flux_random.h"
#include "model/flux1/packing.h"
#include "util/memory.h"
#include "util/threads.h"

namespace {

using namespace untwist;

// The model's matrices (2-D, rows of whole Q4_K blocks) in `encoding`, the
// rest as given; `encoding` empty: everything as given.
std::map<std::string, StoredTensor> stored_as(const TensorMap& tensors, const Encoding* encoding) {
  std::map<std::string, StoredTensor> stored;
  for (const auto& [name, tensor] : tensors) {
    const bool matrix = tensor.dim() == 2 && tensor.size(1) % 256 == 0;
    stored[name] = encoding && matrix ? StoredTensor::encode(tensor, *encoding) : StoredTensor(tensor);
  }
  return stored;
}

int64_t total_bytes(const std::map<std::string, StoredTensor>& stored) {
  int64_t bytes = 0;
  for (const auto& entry : stored) bytes += entry.second.stored_bytes();
  return bytes;
}

}  // namespace

int main(int argc, char** argv) {
  untwist::restart_with_sleeping_idle_threads(argv);
  untwist::keep_freed_memory_for_reuse();
  const bench::RunSize size = bench::parse_run_size(argc, argv);
  const int64_t img_tokens = size.image_tokens, txt_tokens = size.text_tokens;
  const int repeats = size.repeats;
  set_compute_threads(0);
  const FluxConfig config = bench::mid_size_config();
  TensorMap bf16;  // the reference: the random model as a bfloat16 checkpoint
  for (const auto& [name, tensor] : random_flux_weights(config, 0)) bf16[name] = tensor.to(at::kBFloat16);

  const int64_t side = static_cast<int64_t>(std::sqrt(static_cast<double>(img_tokens)));
  at::manual_seed(1);
  DitInputs in;

  std::printf("DiT (hidden %lld, %lld double + %lld single blocks), %lld image + %lld text tokens, float32 compute, "
              "threads %d, best of %d\n\n",
              (long long)config.hidden_size, (long long)config.depth, (long long)config.depth_single_blocks,
              (long long)(side * side), (long long)txt_tokens, compute_threads(), repeats);
  std::printf("%-10s %12s %12s %22s\n", "weights", "weight MiB", "forward s", "rel. error vs bfloat16");
  at::Tensor reference;
  const Encoding encodings[] = {Encoding::F8_E4M3, Encoding::Q8_0, Encoding::Q4_K, Encoding::Q4_0};
  for (int kind = -1; kind < 4; ++kind) {  // -1: the bfloat16 model itself
    const Encoding* encoding = kind < 0 ? nullptr : &encodings[kind];
    const char* label = encoding ? encoding_name(*encoding) : "BF16";
    const auto stored = stored_as(bf16, encoding);
    const FluxModel model(Weights::from_stored(stored, label), config, at::kFloat);
    if (!in.img.defined()) {
      in = bench::random_dit_inputs(model, config.context_in_dim, config.vec_in_dim, 1, side, side, txt_tokens);
    }
    const at::Tensor pe = model.position_table(in);
    at::Tensor velocity;
    const double seconds = bench::best_seconds(repeats, [&] { velocity = model.forward(in, pe); });
    if (!reference.defined()) reference = velocity;
    const double error = ((velocity - reference).norm() / reference.norm()).item<double>();
    std::printf("%-10s %12.1f %12.3f %22.4f\n", label, total_bytes(stored) / 1048576.0, seconds, error);
  }

  // One matrix of FLUX.1's MLP (3072 x 12288), decoded for bfloat16 compute.
  const at::Tensor matrix = at::randn({3072, 12288}).to(at::kBFloat16);
  std::printf("\ndecoding a 3072 x 12288 matrix for bfloat16 compute, best of %d\n", repeats);
  std::printf("%-10s %22s %22s\n", "weights", "through float32 s", "straight to bf16 s");
  for (const Encoding encoding : encodings) {
    const StoredTensor stored = StoredTensor::encode(matrix, encoding);
    const double through = bench::best_seconds(repeats, [&] { stored.as(at::kFloat).to(at::kBFloat16); });
    const double straight = bench::best_seconds(repeats, [&] { stored.as(at::kBFloat16); });
    std::printf("%-10s %22.3f %22.3f\n", encoding_name(encoding), through, straight);
  }
  return 0;
}
