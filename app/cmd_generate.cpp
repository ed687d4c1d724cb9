// `untwist generate`: plain text-to-image, one PNG per prompt.
#include <filesystem>
#include <iostream>

#include "cli_values.h"
#include "commands.h"
#include "io/atomic_file.h"
#include "io/image_file.h"
#include "pipeline_options.h"
#include "util/errors.h"
#include "util/progress.h"

namespace untwist {

namespace {

struct GenerateOptions {
  PipelineFlags pipeline;
  std::vector<std::string> prompts;
  std::vector<std::string> edit_images;
};

// An in-context image as the reference prepares one: RGB in [0, 1], centre-
// cropped to multiples of the token patch.
at::Tensor edit_image(const std::string& path, int64_t patch) {
  const at::Tensor image = read_image(path);  // [3, H, W]
  const int64_t h = image.size(1) / patch * patch, w = image.size(2) / patch * patch;
  if (h == 0 || w == 0) fail_file(path, "is smaller than one " + std::to_string(patch) + "-pixel token");
  return image.narrow(1, (image.size(1) - h) / 2, h).narrow(2, (image.size(2) - w) / 2, w).contiguous();
}

void run_generate(const GenerateOptions& options) {
  const auto pipeline = load_pipeline(options.pipeline.paths, options.pipeline.load_settings());
  RenderRequest request;
  request.prompts = options.prompts;
  for (size_t i = 0; i < options.prompts.size(); ++i) request.seeds.push_back(options.pipeline.seed + i);
  request.settings = options.pipeline.settings;
  for (const auto& path : options.edit_images) request.edit_images.push_back(edit_image(path, pipeline->ae->patch()));
  Progress progress("sampling", request.settings.steps_for(*pipeline->dit));
  request.on_step = [&](int) { progress.step(); };
  const at::Tensor images = render(*pipeline, request);

  std::filesystem::create_directories(options.pipeline.output_dir);
  nlohmann::json manifest = options.pipeline.recipe(*pipeline);
  manifest["command"] = "generate";
  manifest["images"] = nlohmann::json::array();
  for (size_t i = 0; i < options.prompts.size(); ++i) {
    const std::string name = std::to_string(i) + "-" + slug(options.prompts[i]) + ".png";
    nlohmann::json recipe = options.pipeline.recipe(*pipeline);
    recipe["prompt"] = options.prompts[i];
    recipe["seed"] = request.seeds[i];
    write_png(options.pipeline.output_dir + "/" + name, images[static_cast<int64_t>(i)], {{"untwist", recipe.dump()}});
    manifest["images"].push_back({{"file", name}, {"prompt", options.prompts[i]}, {"seed", request.seeds[i]}});
    std::cout << "wrote " << options.pipeline.output_dir << "/" << name << "\n";
  }
  write_file_atomically(options.pipeline.output_dir + "/manifest.json", manifest.dump(2) + "\n");
}

}  // namespace

void add_generate_command(CLI::App& app) {
  auto options = std::make_shared<GenerateOptions>();
  CLI::App* command = app.add_subcommand("generate", "Text to image with a FLUX.1 or FLUX.2 model");
  command->add_option("-p,--prompt", options->prompts, "prompt (repeat for several images)")
      ->check(utf8_text())->required();
  command->add_option("--edit-image", options->edit_images,
                      "FLUX.2: an in-context image every prompt sees (repeat for several; t = 10, 20, ...)")
      ->check(CLI::ExistingFile);
  options->pipeline.add_to(*command);
  command->callback([options] { run_generate(*options); });
}

}  // namespace untwist
