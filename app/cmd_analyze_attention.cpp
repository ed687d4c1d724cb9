// `untwist analyze attention`: where target queries look during a real shared
// sampling run, over their own image and the reference, with all, only high-
// or only low-frequency RoPE pairs (the paper's Fig. 2).
#include <filesystem>
#include <iostream>
#include <sstream>

#include "analysis/attention_figure.h"
#include "analysis/attention_maps.h"
#include "commands.h"
#include "io/atomic_file.h"
#include "io/weights.h"
#include "model/autoencoder.h"
#include "model/families.h"
#include "model/flux1/packing.h"
#include "runner_batch.h"
#include "sampling_options.h"
#include "share_options.h"
#include "util/errors.h"
#include "util/progress.h"

namespace untwist {

namespace {

struct AttentionOptions {
  std::string weights, inputs, autoencoder, output_dir = "analysis";
  SamplingSettings sampling;
  ShareFlags share;
  std::string block, points;
  int step = -1;
  int64_t target = 1;
};

std::vector<std::pair<int64_t, int64_t>> parse_points(const std::string& text, int64_t h, int64_t w) {
  std::vector<std::pair<int64_t, int64_t>> points;
  if (text.empty()) return {{h / 4, w / 4}, {h / 2, w / 2}, {(3 * h) / 4, (3 * w) / 4}};
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ';')) {
    long long row = -1, col = -1;
    char comma = 0, extra = 0;
    if (std::sscanf(item.c_str(), " %lld %c %lld %c", &row, &comma, &col, &extra) != 3 || comma != ',') {
      throw UsageError("--points '" + text + "': expected ROW,COL;ROW,COL token coordinates");
    }
    if (row < 0 || row >= h || col < 0 || col >= w) {
      throw UsageError("--points: token " + item + " is outside the " + std::to_string(h) + "x" +
                       std::to_string(w) + " token grid");
    }
    points.emplace_back(row, col);
  }
  return points;
}

BlockRef parse_block(const std::string& text, const DiffusionTransformer& model) {
  const std::vector<BlockGroup> groups = model.block_groups();
  std::string names;
  for (const BlockGroup& group : groups) names += (names.empty() ? "" : ", ") + group.name + " (" + std::to_string(group.count) + ")";
  if (text.empty()) return {groups.back().name, static_cast<int>(groups.back().count / 2)};
  const size_t colon = text.find(':');
  const std::string name = text.substr(0, colon);
  int index = -1;
  if (colon != std::string::npos) index = std::atoi(text.substr(colon + 1).c_str());
  for (const BlockGroup& group : groups) {
    if (group.name == name && colon != std::string::npos && index >= 0 && index < group.count &&
        text.substr(colon + 1) == std::to_string(index)) {
      return {name, index};
    }
  }
  throw UsageError("--block '" + text + "': expected GROUP:N within the model's blocks: " + names);
}

// Decoded images of the final latents, [B, 3, H, W] in [0, 1].
at::Tensor decode_rows(const std::string& path, const at::Tensor& packed, int64_t h, int64_t w) {
  const Weights weights = Weights::load(path);
  const Autoencoder autoencoder(weights, detect_autoencoder_config(weights));
  if (packed.size(2) != 4 * autoencoder.config().z_channels) {
    fail_file(path, "autoencoder has " + std::to_string(autoencoder.config().z_channels) +
                        " latent channels; the DiT's latents have " + std::to_string(packed.size(2) / 4));
  }
  return ((autoencoder.decode(unpack_latents(packed, h, w)) + 1) / 2).clamp(0, 1);
}

void run_analyze_attention(const AttentionOptions& options) {
  const RunnerInputs inputs(options.inputs);
  const Weights weights = Weights::load(options.weights);
  const std::unique_ptr<DiffusionTransformer> model = load_dit(weights);
  const RunnerBatch batch = read_runner_batch(inputs, *model);
  if (!options.autoencoder.empty() && model->family() != "flux1") {
    throw UsageError("--ae draws FLUX.1 latents only; leave it out for a " + model->family() + " model");
  }
  for (const at::Tensor& ids : batch.ref_ids) {
    if (ids.defined()) {
      fail_file(inputs.path(), "has a reference on a grid of its own (in.ref_img_ids_K); the attention maps draw "
                               "references on the targets' grid");
    }
  }
  const auto [h, w] = token_grid(batch.in.img_ids, model->rope());
  const int64_t rows = batch.in.img.size(0);
  if (rows < 2) fail_file(inputs.path(), "holds one image; attention analysis needs a reference and a target");
  if (options.target < 1 || options.target >= rows) {
    throw UsageError("--target must name a target row, 1 to " + std::to_string(rows - 1));
  }
  ShareFlags share_flags = options.share;
  if (share_flags.mode.empty()) share_flags.mode = "full";
  const ShareSettings share = bind_to(share_flags.settings(), *model);
  if (share.mode == ShareMode::None) throw UsageError("--share none has no reference to look at");
  const BlockRef block = parse_block(options.block, *model);
  if (!share.blocks.shares(block)) {
    throw UsageError("--block " + options.block + " is not among the shared blocks (--blocks " + share.blocks.spec() +
                     ")");
  }
  const int steps = options.sampling.steps;
  const int step = options.step < 0 ? steps / 2 : options.step;
  if (step >= steps) throw UsageError("--step must be below --steps (" + std::to_string(steps) + ")");
  const auto points = parse_points(options.points, h, w);

  SamplingSetup setup = sampling_setup(batch, options.sampling, *model);
  setup.share = &share;
  AttentionCapture capture(step, block, options.target);
  setup.observer = &capture;
  Progress progress("sampling", steps);
  setup.on_step = [&](int) { progress.step(); };
  const at::Tensor latents = sample_dit(*model, setup);
  if (!capture.captured()) throw UsageError("the chosen block did not share at that step (see --window)");

  const auto maps = attention_maps(capture, model->rope().axes_dim, h, w, points);
  std::filesystem::create_directories(options.output_dir);
  const std::string json_path = options.output_dir + "/attention.json";
  const std::string png_path = options.output_dir + "/attention.png";
  nlohmann::json json = attention_maps_json(maps, h, w);
  json["settings"] = {{"mode", share_mode_name(share.mode)}, {"blocks", share.blocks.spec()},
                      {"block", block.group + ":" + std::to_string(block.index)},
                      {"step", step}, {"steps", steps}, {"target", options.target}};
  write_file_atomically(json_path, json.dump(2) + "\n");

  const at::Tensor images = options.autoencoder.empty() ? at::Tensor() : decode_rows(options.autoencoder, latents, h, w);
  std::ostringstream title;
  title << "attention of target " << options.target << ", " << json["settings"]["block"].get<std::string>()
        << ", step " << step + 1 << "/" << steps << ", mode " << share_mode_name(share.mode)
        << " (each map scaled to its own maximum)";
  write_attention_figure(png_path, maps, images, options.target, h, w, title.str());
  std::cout << "attention mass on the reference (all / high / low pairs):\n";
  for (const auto& query : json["queries"]) {
    std::cout << "  query " << query["token"].dump() << ": " << query["reference_mass"]["all"].get<double>() << " / "
              << query["reference_mass"]["high"].get<double>() << " / " << query["reference_mass"]["low"].get<double>()
              << "\n";
  }
  std::cout << "  wrote " << json_path << "\n  wrote " << png_path << "\n";
}

}  // namespace

void add_analyze_attention_command(CLI::App& analyze) {
  auto options = std::make_shared<AttentionOptions>();
  CLI::App* command =
      analyze.add_subcommand("attention", "Attention maps of target queries over own image and reference (Fig. 2)");
  command->add_option("--weights", options->weights, "DiT checkpoint")->required()->check(CLI::ExistingFile);
  command->add_option("--inputs", options->inputs, "in.* batch as for `untwist dit` (row 0 the reference)")
      ->required()->check(CLI::ExistingFile);
  command->add_option("--ae", options->autoencoder, "autoencoder: overlay the maps on the decoded images")
      ->check(CLI::ExistingFile);
  options->sampling.steps = 4;
  add_sampling_options(*command, options->sampling, "sampling steps (default 4)");
  options->share.add_to(*command, "--share");
  command->add_option("--block", options->block, "block to look into: GROUP:N, e.g. double:N or single:N (default: the middle block of the last group)");
  command->add_option("--step", options->step, "sampler step to look at, from 0 (default: the middle one)")
      ->check(CLI::NonNegativeNumber);
  command->add_option("--target", options->target, "target row (1..)")->capture_default_str();
  command->add_option("--points", options->points, "query tokens ROW,COL;ROW,COL (default: three on the diagonal)");
  command->add_option("-o,--output", options->output_dir, "output folder")->capture_default_str();
  command->callback(
      [options] { naming_inputs_file(options->inputs, [&] { run_analyze_attention(*options); }); });
}

}  // namespace untwist
