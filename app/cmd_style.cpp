// `untwist style`: a style-aligned set from a reference prompt or image and
// target prompts, in one sharing mode or side by side (--compare).
#include <filesystem>
#include <iostream>

#include "analysis/copy_meter.h"
#include "analysis/image_grid.h"
#include "cli_values.h"
#include "commands.h"
#include "io/atomic_file.h"
#include "io/image_file.h"
#include "pipeline_options.h"
#include "sample/dit_sampler.h"
#include "share_options.h"
#include "util/errors.h"
#include "util/progress.h"

namespace untwist {

namespace {

struct StyleOptions {
  PipelineFlags pipeline;
  ShareFlags share;
  std::string ref_prompt, ref_image;
  std::vector<std::string> prompts;
  bool compare = false;
  bool meter = false;
};

nlohmann::json share_json(const ShareSettings& s) {
  return {{"mode", share_mode_name(s.mode)},
          {"blocks", s.blocks.spec()},
          {"s_hf", {s.s_hf.start, s.s_hf.end}},
          {"s_lf", {s.s_lf.start, s.s_lf.end}},
          {"beta", s.beta},
          {"axis0", axis0_name(s.axis0)},
          {"curve", curve_name(s.curve)},
          {"window", {s.window.start, s.window.end}},
          {"adain", s.adain}};
}

void run_style(const StyleOptions& options) {
  if (options.ref_prompt.empty() && options.ref_image.empty()) {
    throw UsageError("give the reference: --ref-prompt TEXT or --ref-image FILE");
  }
  const ShareSettings chosen = options.share.settings();
  std::vector<ShareSettings> modes;
  if (options.compare) {
    for (ShareMode mode : {ShareMode::None, ShareMode::Full, ShareMode::Untwisted}) {
      ShareSettings settings = chosen;
      settings.mode = mode;
      settings.adain = mode == ShareMode::Untwisted ? chosen.adain : 0.0;
      modes.push_back(settings);
    }
  } else {
    modes.push_back(chosen);
  }
  const ImageSettings image_settings = options.pipeline.settings;
  at::Tensor reference_image;  // read before the models load, so a bad image fails fast
  if (!options.ref_image.empty()) {
    reference_image = resize_and_crop(read_image(options.ref_image), image_settings.height, image_settings.width);
  }
  const auto pipeline = load_pipeline(options.pipeline.paths, options.pipeline.load_settings());
  for (const auto& settings : modes) {
    bind_to(settings, *pipeline->dit);  // a --blocks naming what the model lacks fails before sampling
  }

  RenderRequest request;
  request.prompts.push_back(options.ref_prompt);
  for (const auto& prompt : options.prompts) request.prompts.push_back(prompt);
  for (size_t i = 0; i < request.prompts.size(); ++i) request.seeds.push_back(options.pipeline.seed + i);
  request.settings = image_settings;
  request.reference_image = reference_image;
  const EncodedText text = encode_text(*pipeline, request.prompts, image_settings);  // once for every mode
  request.text = &text;
  const int steps = image_settings.steps_for(*pipeline->dit);
  Progress progress("sampling", steps * static_cast<int>(modes.size()));
  request.on_step = [&](int) { progress.step(); };

  const std::string& dir = options.pipeline.output_dir;
  std::filesystem::create_directories(dir);
  nlohmann::json manifest = options.pipeline.recipe(*pipeline);
  manifest["command"] = "style";
  manifest["reference"] = options.ref_image.empty() ? nlohmann::json{{"prompt", options.ref_prompt}}
                                                    : nlohmann::json{{"image", options.ref_image},
                                                                     {"prompt", options.ref_prompt}};
  manifest["sets"] = nlohmann::json::array();
  ImageGrid grid;
  grid.title = "reference: " + (options.ref_image.empty() ? options.ref_prompt : options.ref_image);
  grid.column_labels.push_back("reference");
  for (const auto& prompt : options.prompts) grid.column_labels.push_back(prompt);

  for (const ShareSettings& settings : modes) {
    request.share = &settings;
    const auto [grid_h, grid_w] = token_grid_for(*pipeline, image_settings);
    CopyMeter meter(grid_h, grid_w);
    request.observer = options.meter ? &meter : nullptr;
    const at::Tensor images = render(*pipeline, request);  // [1 + N, 3, H, W]
    const std::string mode = share_mode_name(settings.mode);
    const std::string folder = options.compare ? dir + "/" + mode : dir;
    std::filesystem::create_directories(folder);
    if (options.meter) write_file_atomically(folder + "/meter.json", meter.to_json().dump(2) + "\n");
    nlohmann::json set = {{"share", share_json(settings)}, {"images", nlohmann::json::array()}};
    std::vector<at::Tensor> row;
    for (int64_t i = 0; i < images.size(0); ++i) {
      const std::string name = i == 0 ? "reference.png" : std::to_string(i) + "-" + slug(request.prompts[i]) + ".png";
      nlohmann::json recipe = options.pipeline.recipe(*pipeline);
      recipe["share"] = share_json(settings);
      recipe["prompt"] = request.prompts[static_cast<size_t>(i)];
      recipe["seed"] = request.seeds[static_cast<size_t>(i)];
      recipe["role"] = i == 0 ? "reference" : "target";
      write_png(folder + "/" + name, images[i], {{"untwist", recipe.dump()}});
      set["images"].push_back({{"file", (options.compare ? mode + "/" : "") + name},
                               {"prompt", request.prompts[static_cast<size_t>(i)]},
                               {"seed", request.seeds[static_cast<size_t>(i)]}});
      row.push_back(images[i]);
    }
    manifest["sets"].push_back(set);
    grid.rows.push_back(row);
    grid.row_labels.push_back(mode);
  }
  write_image_grid(dir + "/grid.png", grid, {{"untwist", manifest.dump()}});
  write_file_atomically(dir + "/manifest.json", manifest.dump(2) + "\n");
  std::cout << "wrote " << dir << "/grid.png, " << dir << "/manifest.json and " << modes.size() * request.prompts.size()
            << " images\n";
}

}  // namespace

void add_style_command(CLI::App& app) {
  auto options = std::make_shared<StyleOptions>();
  CLI::App* command = app.add_subcommand("style", "A style-aligned set: a reference and targets that share its style");
  command->add_option("--ref-prompt", options->ref_prompt,
                      "the reference, generated from this prompt (with --ref-image: the reference's caption)")
      ->check(utf8_text());
  command->add_option("--ref-image", options->ref_image, "the reference image (resized and centre-cropped)")
      ->check(CLI::ExistingFile);
  command->add_option("-p,--prompt", options->prompts, "target prompt (repeat for several)")
      ->check(utf8_text())->required();
  command->add_flag("--compare", options->compare, "none | full | untwisted side by side, same seeds");
  command->add_flag("--meter", options->meter, "record the copying meter per block and step (meter.json)");
  options->share.add_to(*command, "--mode");
  options->pipeline.add_to(*command);
  command->callback([options] { run_style(*options); });
}

}  // namespace untwist
