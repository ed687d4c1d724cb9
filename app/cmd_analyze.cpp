// `untwist analyze`: the paper's analyses for any model.
#include <filesystem>
#include <iostream>

#include "analysis/rope_bands.h"
#include "cli_values.h"
#include "commands.h"
#include "io/atomic_file.h"
#include "io/weights.h"
#include "model/flux1/flux_config.h"
#include "util/errors.h"

namespace untwist {

namespace {

struct RopeOptions {
  std::string model, axes_dim, output_dir = "analysis";
  double theta = 0;
  int axis = 1, max_delta = 64;
};

void run_analyze_rope(const RopeOptions& options) {
  std::vector<int64_t> axes_dim = {16, 56, 56};
  double theta = 10000;
  RopeOverride rope;
  if (!options.axes_dim.empty()) rope.axes_dim = parse_axes_dim(options.axes_dim);
  if (options.theta > 0) rope.theta = options.theta;
  if (!options.model.empty()) {
    const FluxConfig config = detect_flux_config(Weights::load(options.model), rope);
    axes_dim = config.axes_dim;
    theta = config.theta;
  } else {
    if (rope.axes_dim) axes_dim = *rope.axes_dim;
    if (rope.theta) theta = *rope.theta;
  }
  const RopeBandCurves curves = rope_band_curves(axes_dim, theta, options.axis, options.max_delta);
  std::filesystem::create_directories(options.output_dir);
  const std::string csv = options.output_dir + "/rope_bands.csv";
  const std::string png = options.output_dir + "/rope_bands.png";
  write_file_atomically(csv, rope_band_csv(curves));
  write_line_plot(png, rope_band_plot(curves));
  std::cout << "RoPE band curves (axis " << options.axis << ", " << curves.per_pair.size() << " pairs, theta " << theta
            << "):\n  shift 1: high " << curves.high[1] << ", mid " << curves.mid[1] << ", low " << curves.low[1]
            << "\n  wrote " << csv << "\n  wrote " << png << "\n";
}

}  // namespace

void add_analyze_command(CLI::App& app) {
  CLI::App* analyze = app.add_subcommand("analyze", "The paper's analyses: RoPE band curves, attention maps");
  analyze->require_subcommand(1);

  auto rope = std::make_shared<RopeOptions>();
  CLI::App* rope_command = analyze->add_subcommand("rope", "RoPE similarity vs shift, per frequency band (Fig. 1)");
  rope_command->add_option("--model", rope->model, "read axes and theta from this DiT checkpoint")
      ->check(CLI::ExistingFile);
  rope_command->add_option("--axes-dim", rope->axes_dim, "RoPE axes, e.g. 16,56,56 (default: FLUX.1's)")
      ->check(parsed_by([](const std::string& text) { parse_axes_dim(text); }));
  rope_command->add_option("--theta", rope->theta, "RoPE theta (default 10000)")->check(finite_range(1e-3, 1e9));
  rope_command->add_option("--axis", rope->axis, "position axis to analyse (1: rows)")->capture_default_str();
  rope_command->add_option("--max-delta", rope->max_delta, "largest shift in tokens")
      ->check(CLI::Range(1, 4096))->capture_default_str();
  rope_command->add_option("-o,--output", rope->output_dir, "output folder")->capture_default_str();
  rope_command->callback([rope] { run_analyze_rope(*rope); });

  add_analyze_attention_command(*analyze);
}

}  // namespace untwist
