// Writes what bench/peak_rss.sh runs `untwist dit` on: a random-weight DiT at
// FLUX.1's real widths (hidden 3072, 24 heads, MLP 12288) and reduced depth,
// stored in bfloat16 as the released checkpoints are, and an inputs file;
// with --t5-layers, text encoders at T5-XXL's and CLIP-L's widths for
// bench/pipeline_rss.sh.
//
//   build/bench_write_flux_width DIR [--double N] [--single N] [--image-tokens N] [--text-tokens N]
//                                    [--t5-layers N] [--latent-channels N]
//
// DIR/dit.safetensors, DIR/inputs.safetensors (in.img, in.img_ids, in.txt,
// in.txt_ids, in.y, in.timesteps, in.guidance); with --t5-layers N also
// DIR/t5.safetensors (N layers) and DIR/clip.safetensors (12 layers).
// --latent-channels (default FLUX.1's 16) fits the DiT to an autoencoder.
#include <cstdio>
#include <cstring>
#include <string>

#include "io/safetensors.h"
#include "model/flux1/flux_config.h"
#include "model/flux1/flux_random.h"
#include "model/flux1/packing.h"
#include "model/text_encoders_random.h"

namespace {

using namespace untwist;

// Writes the tensors in bfloat16; returns how many values they hold.
int64_t write_bfloat16(const std::string& path, const NamedTensors& tensors) {
  NamedTensors stored;
  int64_t values = 0;
  for (const auto& [name, tensor] : tensors) {
    stored.emplace_back(name, tensor.to(at::kBFloat16));
    values += tensor.numel();
  }
  write_safetensors(path, stored, {});
  return values;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_write_flux_width DIR [--double N] [--single N] [--image-tokens N] "
                         "[--text-tokens N] [--t5-layers N] [--latent-channels N]\n");
    return 2;
  }
  const std::string dir = argv[1];
  FluxConfig config;  // FLUX.1's widths
  config.depth = 2;
  config.depth_single_blocks = 4;
  int64_t img_tokens = 1024, txt_tokens = 512, t5_layers = 0;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--double")) config.depth = std::stoll(argv[i + 1]);
    if (!std::strcmp(argv[i], "--single")) config.depth_single_blocks = std::stoll(argv[i + 1]);
    if (!std::strcmp(argv[i], "--image-tokens")) img_tokens = std::stoll(argv[i + 1]);
    if (!std::strcmp(argv[i], "--text-tokens")) txt_tokens = std::stoll(argv[i + 1]);
    if (!std::strcmp(argv[i], "--t5-layers")) t5_layers = std::stoll(argv[i + 1]);
    if (!std::strcmp(argv[i], "--latent-channels")) config.in_channels = config.out_channels = 4 * std::stoll(argv[i + 1]);
  }
  const TensorMap flux = random_flux_weights(config, 0);
  const int64_t values = write_bfloat16(dir + "/dit.safetensors", NamedTensors(flux.begin(), flux.end()));
  if (t5_layers > 0) {
    T5Config t5;  // T5-XXL's widths
    t5.num_layers = t5_layers;
    const int64_t t5_values = write_bfloat16(dir + "/t5.safetensors", random_t5_weights(t5, 1));
    const int64_t clip_values = write_bfloat16(dir + "/clip.safetensors", random_clip_weights(ClipTextConfig{}, 2));
    std::printf("T5 at XXL width, %lld layers: %.2f GiB; CLIP-L: %.2f GiB (bfloat16)\n", (long long)t5_layers,
                t5_values * 2 / 1073741824.0, clip_values * 2 / 1073741824.0);
  }

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
