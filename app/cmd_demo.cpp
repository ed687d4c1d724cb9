// `untwist demo`: the method on the shipped toy model, with nothing to
// download: one reference and content-only targets under none / full /
// untwisted sharing, their metrics, the RoPE band plot and attention maps.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "analysis/attention_figure.h"
#include "analysis/attention_maps.h"
#include "analysis/image_grid.h"
#include "analysis/rope_bands.h"
#include "commands.h"
#include "io/atomic_file.h"
#include "toy/evaluation.h"
#include "toy/toy_checkpoint.h"
#include "toy/toy_sampler.h"
#include "toy_paths.h"

namespace untwist {

namespace {

struct DemoOptions {
  std::string model, output_dir = "demo", blocks = toy::kDefaultSharedBlocks;
  int steps = toy::kDefaultSteps;
  uint64_t seed = toy::kDemoSeed;
};

void run_demo(const DemoOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const std::string model_path = find_toy_model(options.model);
  const toy::ToyModel model = toy::load_toy(model_path);
  const std::string& dir = options.output_dir;
  std::filesystem::create_directories(dir);

  const toy::BenchmarkSet set = toy::demo_set(options.seed);
  toy::ToyRequest request = toy::set_request(set, options.steps, nullptr, model.text().vocabulary);
  const std::string& reference_prompt = request.prompts[0];
  const std::vector<std::string> targets(request.prompts.begin() + 1, request.prompts.end());
  std::vector<toy::Shape> target_shapes;
  for (const toy::Scene& target : set.targets) target_shapes.push_back(target.shape);

  ImageGrid grid;
  grid.title = "untwist demo: reference \"" + reference_prompt + "\", targets name only their content";
  grid.column_labels.push_back("reference");
  grid.column_labels.insert(grid.column_labels.end(), targets.begin(), targets.end());
  std::string table = "mode,copy_iou,shape_accuracy,style_distance,object_rate\n";
  std::printf("%-10s %10s %15s %15s %10s\n", "mode", "copy IoU", "shape correct", "style distance", "objects");

  constexpr int64_t kShownSide = 128;  // pixels of each image in the figures
  const std::vector<std::pair<int64_t, int64_t>> attention_points = {{4, 4}, {8, 8}, {11, 11}};  // token (row, col)
  const int capture_step = options.steps / 3;
  const BlockRef capture_block{"single", 1};
  at::Tensor full_images;
  std::vector<QueryMaps> maps;
  for (ShareMode mode : {ShareMode::None, ShareMode::Full, ShareMode::Untwisted}) {
    ShareSettings share;
    share.mode = mode;
    share.blocks = SharePlan::parse(options.blocks);
    request.share = &share;
    AttentionCapture capture(capture_step, capture_block, 1);
    request.observer = mode == ShareMode::Full ? &capture : nullptr;
    const at::Tensor images = toy::sample_toy(model, request);  // [1 + N, 3, 32, 32]
    if (mode == ShareMode::Full) {
      full_images = images;
      if (capture.captured()) {
        maps = attention_maps(capture, model.dit->config().axes_dim, toy::kTokenSide, toy::kTokenSide,
                              attention_points);
      }
    }
    std::vector<at::Tensor> row;
    for (int64_t i = 0; i < images.size(0); ++i) {
      row.push_back(at::upsample_nearest2d(images[i].unsqueeze(0), {kShownSide, kShownSide})[0]);
    }
    const toy::Scores scores = toy::score_set(images, target_shapes);
    std::printf("%-10s %10.3f %15.2f %15.3f %10.2f\n", share_mode_name(mode), scores.copy_iou, scores.shape_accuracy,
                scores.style_distance, scores.object_rate);
    char line[128];
    std::snprintf(line, sizeof(line), "%s,%.4f,%.4f,%.4f,%.4f\n", share_mode_name(mode), scores.copy_iou,
                  scores.shape_accuracy, scores.style_distance, scores.object_rate);
    table += line;
    grid.rows.push_back(row);
    grid.row_labels.push_back(share_mode_name(mode));
  }
  write_image_grid(dir + "/grid.png", grid, {{"untwist", grid.title}});
  write_file_atomically(dir + "/metrics.csv", table);

  const RopeBandCurves curves = rope_band_curves(model.dit->config().axes_dim, model.dit->config().theta, 1, 15);
  write_line_plot(dir + "/rope_bands.png", rope_band_plot(curves));
  if (!maps.empty()) {
    const at::Tensor large = at::upsample_nearest2d(full_images, {kShownSide, kShownSide});
    write_attention_figure(dir + "/attention.png", maps, large, 1, toy::kTokenSide, toy::kTokenSide,
                           "toy model, full sharing: where target \"" + targets[0] + "\" looks (single:1, step " +
                               std::to_string(capture_step + 1) + ")");
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "\nmodel " << model_path << "; " << seconds << " s\n"
            << "wrote " << dir << "/grid.png, metrics.csv, rope_bands.png" << (maps.empty() ? "" : ", attention.png")
            << "\n";
}

}  // namespace

void add_demo_command(CLI::App& app) {
  auto options = std::make_shared<DemoOptions>();
  CLI::App* command = app.add_subcommand("demo", "The method on the project's own toy model, nothing to download");
  add_toy_model_option(*command, options->model);
  command->add_option("-o,--output", options->output_dir, "output folder")->capture_default_str();
  command->add_option("--blocks", options->blocks, "shared blocks")->capture_default_str();
  command->add_option("--steps", options->steps, "sampling steps")->check(CLI::Range(1, 1000))->capture_default_str();
  command->add_option("-s,--seed", options->seed, "seed of the reference; targets count up")->capture_default_str();
  command->callback([options] { run_demo(*options); });
}

}  // namespace untwist
