// Peak resident memory and time of a Qwen3 text encode at the shape of
// FLUX.2 [klein] 4B's text encoder (Qwen3-4B: hidden 2560, 36 layers, 32
// heads and 8 key/value heads of 128, MLP 9728, vocabulary 151936) as klein
// runs it: the hidden states of layers 9, 18 and 27, so only 27 of the 36
// layers are read and run, from a bfloat16 safetensors file, in float32, for
// one prompt of 512 tokens.
//
//   build/bench_qwen3_encode [--dir DIR] [--tokens N] [--threads N]
//   build/bench_qwen3_encode --encode FILE [--tokens N] [--threads N]
//
// The first form writes the file (about 8 GB: one random layer stored under
// all 36 layers' names, so that writing it takes about 3 GiB of memory, not
// 16) into a new folder under DIR (default: the system's temporary folder),
// encodes in a fresh process of this program, so that the peak is the
// encode's alone, and deletes the folder. The second form encodes a file
// already written. The file was just written, so its pages come from the page
// cache, not the disk.
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "io/weights.h"
#include "model/qwen3_text.h"
#include "model/text_encoders_random.h"
#include "util/memory.h"
#include "util/threads.h"

extern char** environ;

namespace {

using namespace untwist;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

// The process's peak resident memory since it started this program: VmHWM,
// which, unlike getrusage's ru_maxrss, does not carry the writer's peak over
// into the encode it starts.
double peak_rss_gib() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmHWM:", 0) == 0) return std::strtod(line.c_str() + 6, nullptr) * 1024.0 / kGiB;  // kB
  }
  return 0;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Qwen3-4B's shape (Qwen3Config's defaults) in bfloat16, every layer the same
// random values.
void write_klein_shaped_qwen3(const std::string& path) {
  const Qwen3Config config;
  Qwen3Config one_layer = config;
  one_layer.num_layers = 1;
  const std::string first = "model.layers.0.";
  NamedTensors shared, layer;
  for (const auto& [name, tensor] : random_qwen3_weights(one_layer, 0)) {
    const bool in_layer = name.rfind(first, 0) == 0;
    (in_layer ? layer : shared).emplace_back(in_layer ? name.substr(first.size()) : name, tensor.to(at::kBFloat16));
  }
  NamedTensors stored = shared;
  for (int64_t n = 0; n < config.num_layers; ++n) {
    for (const auto& [name, tensor] : layer) stored.emplace_back("model.layers." + std::to_string(n) + "." + name, tensor);
  }
  write_safetensors(path, stored);
}

// The decoder layer a tensor name belongs to ("model.layers.12.mlp..." -> 12), or -1.
int64_t layer_of(const std::string& name) {
  const size_t at = name.find("layers.");
  if (at == std::string::npos) return -1;
  return std::strtoll(name.c_str() + at + 7, nullptr, 10);
}

int encode(const std::string& path, int64_t tokens) {
  keep_freed_memory_for_reuse();  // as untwist runs
  const double start_rss = peak_rss_gib();
  const auto load_start = Clock::now();
  const Weights weights = Weights::load(path);
  const Qwen3Config config = detect_qwen3_config(weights);
  const Qwen3TextEncoder encoder(weights, config, kFlux2KleinQwen3Layers);
  const double load_seconds = seconds_since(load_start);
  const double load_rss = peak_rss_gib();

  at::manual_seed(0);
  const at::Tensor ids = at::randint(config.vocab_size, {1, tokens}, at::kLong);  // [1, tokens]
  const at::Tensor mask = at::ones({1, tokens}, at::kLong);
  const auto encode_start = Clock::now();
  const at::Tensor context = encoder.context(ids, mask);  // [1, tokens, 3 * hidden]
  const double encode_seconds = seconds_since(encode_start);
  const double encode_rss = peak_rss_gib();

  const int64_t run = encoder.built_layers();
  double embedding = 0, read_layers = 0, other_layers = 0;
  const auto file_entries = SafetensorsFile::open(path);
  for (const TensorEntry& entry : file_entries->entries()) {
    const double bytes = static_cast<double>(entry.end - entry.begin) / kGiB;
    const int64_t layer = layer_of(entry.name);
    if (entry.name.find("embed_tokens") != std::string::npos) embedding += bytes;
    if (layer >= 0) (layer < run ? read_layers : other_layers) += bytes;
  }
  const double file = static_cast<double>(fs::file_size(path)) / kGiB;
  std::printf("Qwen3 encode: hidden %lld, %lld layers (%lld run), %lld heads, %lld key/value heads of %lld, MLP %lld, "
              "vocabulary %lld; %lld tokens, float32, threads %d\n\n",
              (long long)config.hidden_size, (long long)config.num_layers, (long long)run,
              (long long)config.num_heads, (long long)config.num_kv_heads, (long long)config.head_dim,
              (long long)config.intermediate_size, (long long)config.vocab_size, (long long)tokens,
              compute_threads());
  std::printf("file                         %6.2f GiB\n", file);
  std::printf("  token embedding            %6.2f GiB (only the prompt's rows are read)\n", embedding);
  std::printf("  layers 0-%-3lld              %6.2f GiB (%lld of %lld layers)\n", (long long)(run - 1), read_layers,
              (long long)run, (long long)config.num_layers);
  std::printf("  layers %lld-%-3lld             %6.2f GiB (never read)\n", (long long)run,
              (long long)(config.num_layers - 1), other_layers);
  std::printf("peak RSS at start            %6.2f GiB\n", start_rss);
  std::printf("peak RSS after loading       %6.2f GiB   load %.2f s\n", load_rss, load_seconds);
  std::printf("peak RSS after encoding      %6.2f GiB   encode %.2f s, context %s\n", encode_rss, encode_seconds,
              context.sizes().vec() == std::vector<int64_t>{1, tokens, 3 * config.hidden_size} ? "[1, L, 3 x hidden]"
                                                                                               : "of a wrong shape");
  std::printf("peak RSS / file              %6.2f\n", encode_rss / file);
  std::printf("peak RSS / layers read       %6.2f\n", encode_rss / read_layers);
  return 0;
}

// Runs this program again with `args` and waits for it; its exit status.
int run_again(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, argv.data(), environ) != 0) {
    std::perror("error: cannot start the encode");
    return 1;
  }
  int status = 0;
  if (waitpid(pid, &status, 0) < 0) return 1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

}  // namespace

int main(int argc, char** argv) {
  untwist::restart_with_sleeping_idle_threads(argv);
  std::string dir, file;
  std::string tokens = "512", threads = "0";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--dir")) dir = argv[i + 1];
    if (!std::strcmp(argv[i], "--encode")) file = argv[i + 1];
    if (!std::strcmp(argv[i], "--tokens")) tokens = argv[i + 1];
    if (!std::strcmp(argv[i], "--threads")) threads = argv[i + 1];
  }
  set_compute_threads(std::stoi(threads));  // 0: all cores
  if (!file.empty()) return encode(file, std::stoll(tokens));

  std::string folder = ((dir.empty() ? fs::temp_directory_path() : fs::path(dir)) / "untwist-qwen3-XXXXXX").string();
  if (mkdtemp(folder.data()) == nullptr) {
    std::perror(("error: cannot make a folder " + folder).c_str());
    return 1;
  }
  int status = 1;
  try {
    const std::string path = folder + "/qwen3.safetensors";
    const auto write_start = Clock::now();
    write_klein_shaped_qwen3(path);
    std::printf("wrote %.2f GiB in %.0f s\n", static_cast<double>(fs::file_size(path)) / kGiB,
                seconds_since(write_start));
    std::fflush(stdout);
    status = run_again({argv[0], "--encode", path, "--tokens", tokens, "--threads", threads});
  } catch (const std::exception& error) {
    std::fprintf(stderr, "error: %s\n", error.what());
  }
  std::error_code ignored;
  fs::remove_all(folder, ignored);
  return status;
}
