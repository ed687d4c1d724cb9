// `untwist invert`: a real image inverted to the noise that regenerates it
// under a prompt, regenerated from that noise, and the reconstruction's PSNR
// beside the autoencoder's own round trip (the ceiling).
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <optional>
#include <sstream>

#include "cli_values.h"
#include "commands.h"
#include "io/atomic_file.h"
#include "io/image_file.h"
#include "pipeline/inversion.h"
#include "pipeline_options.h"
#include "util/errors.h"
#include "util/progress.h"

namespace untwist {

namespace {

struct InvertOptions {
  PipelineFlags pipeline;
  std::string image, prompt, output;
  std::string solver = "fireflow";
};

// The flags as this command runs them: families with classifier-free
// guidance run without it (UsageError when --guidance asks for it).
PipelineFlags flags_for(const PipelineFlags& given, const DiffusionTransformer& dit) {
  PipelineFlags flags = given;
  if (dit.classifier_free_guidance()) {
    if (given.settings.guidance && *given.settings.guidance > 1.0) {
      throw UsageError("untwist invert runs " + dit.family() +
                       " without classifier-free guidance: leave out --guidance (or give at most 1)");
    }
    flags.settings.guidance = 0.0;
  }
  return flags;
}

std::string decibels(double psnr) {
  std::ostringstream text;
  text << std::fixed << std::setprecision(2) << psnr << " dB";
  return text.str();
}

void run_invert(const InvertOptions& options) {
  const InversionSolver solver = parse_inversion_solver(options.solver);
  refuse_overwriting_inputs(options.output, {options.image});
  const at::Tensor read = read_image(options.image);  // before the models load, so a bad image fails fast
  const auto pipeline = load_pipeline(options.pipeline.paths, options.pipeline.load_settings());
  const PipelineFlags flags = flags_for(options.pipeline, *pipeline->dit);
  const ImageSettings& settings = flags.settings;
  token_grid_for(*pipeline, settings);  // a size that is not a multiple of the patch fails before any work
  const DiffusionTransformer& dit = *pipeline->dit;
  const at::Tensor image = resize_and_crop(read, settings.height_for(dit), settings.width_for(dit));  // [3, H, W]

  const int calls = solver_model_calls(solver, settings.steps_for(*pipeline->dit));
  std::optional<Progress> progress(std::in_place, "inverting", calls);
  const ImageInversion inversion =
      invert_image(*pipeline, image, pipeline->text->encode({options.prompt}), settings, solver,
                   [&] { progress->step(); });
  progress.emplace("regenerating", calls);
  const at::Tensor tokens = regenerate_tokens(*pipeline, inversion, solver, [&] { progress->step(); });
  progress.reset();
  const at::Tensor clean = inversion.trajectory[-1];  // the image's own tokens
  const at::Tensor images = decode_image_tokens(*pipeline, at::cat({tokens, clean}, 0), inversion.rows, inversion.cols);
  const double reconstruction = image_psnr(images[0], image);
  const double autoencoder = image_psnr(images[1], image);
  const double solver_only = image_psnr(images[0], images[1]);  // the inversion's own error, without the autoencoder's

  nlohmann::json recipe = flags.recipe(*pipeline);
  recipe["command"] = "invert";
  recipe["image"] = options.image;
  recipe["prompt"] = options.prompt;
  recipe["solver"] = inversion_solver_name(solver);
  recipe["psnr_db"] = reconstruction;
  recipe["autoencoder_psnr_db"] = autoencoder;
  recipe["psnr_against_autoencoder_db"] = solver_only;
  const std::filesystem::path folder = std::filesystem::path(options.output).parent_path();
  if (!folder.empty()) std::filesystem::create_directories(folder);
  write_png(options.output, images[0], {{"untwist", recipe.dump()}});
  std::cout << "wrote " << options.output << "\n"
            << "PSNR " << decibels(reconstruction) << " (" << inversion_solver_name(solver) << ", "
            << settings.steps_for(*pipeline->dit) << " steps); autoencoder round trip " << decibels(autoencoder)
            << "\n"
            << "regenerated against the autoencoder round trip: " << decibels(solver_only) << "\n";
}

}  // namespace

void add_invert_command(CLI::App& app) {
  auto options = std::make_shared<InvertOptions>();
  CLI::App* command = app.add_subcommand(
      "invert",
      "Invert an image to the noise that regenerates it under a prompt (rectified-flow inversion), regenerate it, "
      "and print the reconstruction's PSNR beside the autoencoder round trip's. FLUX uses its embedded guidance "
      "(--guidance); Z-Image runs without classifier-free guidance.");
  command->add_option("--image", options->image, "the image to invert (resized and centre-cropped to -W x -H)")
      ->check(CLI::ExistingFile)->required();
  command->add_option("-p,--prompt", options->prompt, "the prompt the image is inverted and regenerated under")
      ->check(utf8_text())->required();
  command->add_option("--solver", options->solver,
                      "ODE solver: " + joined_names(inversion_solver_names()) + " (euler: first order; rf-solver: "
                      "second order, 2 model calls a step; fireflow: second order, 1 call a step)")
      ->check(parsed_by([](const std::string& text) { parse_inversion_solver(text); }))->capture_default_str();
  options->pipeline.add_to(*command);
  // One output file, not a folder; no seed (the noise comes from the image);
  // no classifier-free guidance settings (it runs without).
  for (const char* unused : {"--output", "--seed", "--negative-prompt", "--cfg-truncation", "--cfg-normalization"}) {
    command->remove_option(command->get_option(unused));
  }
  command->add_option("-o,--output", options->output, "the regenerated image (PNG)")->required();
  command->callback([options] { run_invert(*options); });
}

}  // namespace untwist
