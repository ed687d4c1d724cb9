// Writes what bench/peak_rss.sh runs `untwist dit` on: a random-weight DiT at
// FLUX.1's real widths (hidden 3072, 24 heads, MLP 12288) and reduced depth,
// stored in bfloat16 as the released checkpoints are, and an inputs file.
//
//   build/bench_write_flux_width DIR [--double N] [--single N] [--image-tokens N] [--text-tokens N]
//
// DIR/dit.safetensors, DIR/inputs.safetensors (in.img, in.img_ids, in.txt,
// in.txt_ids, in.y, in.timesteps, in.guidance).
#include <cstdio>
#include <cstring>
#include <string>

#include "io/safetensors.h"
#include "model/flux_config.h"
#include "model/flux_random.h"
#include "model/packing.h"

int main(int argc, char** argv) {
  using namespace untwist;
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_write_flux_width DIR [--double N] [--single N] [--image-tokens N] "
                         "[--text-tokens N]\n");
    return 2;
  }
  const std::string dir = argv[1];
  FluxConfig config;  // FLUX.1's widths
  config.depth = 2;
  config.depth_single_blocks = 4;
  int64_t img_tokens = 1024, txt_tokens = 512;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--double")) config.depth = std::stoll(argv[i + 1]);
    if (!std::strcmp(argv[i], "--single")) config.depth_single_blocks = std::stoll(argv[i + 1]);
    if (!std::strcmp(argv[i], "--image-tokens")) img_tokens = std::stoll(argv[i + 1]);
    if (!std::strcmp(argv[i], "--text-tokens")) txt_tokens = std::stoll(argv[i + 1]);
  }
  NamedTensors weights;
  int64_t values = 0;
  for (const auto& [name, tensor] : random_flux_weights(config, 0)) {
    weights.emplace_back(name, tensor.to(at::kBFloat16));
    values += tensor.numel();
  }
  write_safetensors(dir + "/dit.safetensors", weights, {});

  const int64_t side = static_cast<int64_t>(std::sqrt(static_cast<double>(img_tokens)));
  at::manual_seed(0);
  write_safetensors(dir + "/inputs.safetensors",
                    {{"in.img", at::randn({1, side * side, config.in_channels})},
                     {"in.img_ids", image_position_ids(1, side, side)},
                     {"in.txt", at::randn({1, txt_tokens, config.context_in_dim})},
                     {"in.txt_ids", at::zeros({1, txt_tokens, 3})},
                     {"in.y", at::randn({1, config.vec_in_dim})},
                     {"in.timesteps", at::full({1}, 0.5)},
                     {"in.guidance", at::full({1}, 3.5)}},
                    {});
  std::printf("%lld double + %lld single blocks, %.2f G parameters, %.2f GiB in bfloat16; %lld image + %lld text tokens\n",
              (long long)config.depth, (long long)config.depth_single_blocks, values / 1e9,
              values * 2 / 1073741824.0, (long long)(side * side), (long long)txt_tokens);
  return 0;
}
