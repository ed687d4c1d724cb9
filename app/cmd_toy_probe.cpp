// `untwist toy probe`: how well the toy model follows its prompts without
// sharing: its samples of random full prompts read back attribute by
// attribute, and how well one call denoises rendered scenes from each noise
// level (where sampling must lay out the prompted shape); --json writes the
// same numbers as JSON.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "analysis/image_grid.h"
#include "commands.h"
#include "io/atomic_file.h"
#include "toy/probe.h"
#include "toy/toy_sampler.h"
#include "toy_paths.h"

namespace untwist {

namespace {

struct ProbeOptions {
  std::string model, grid, json;
  int scenes = 96, steps = toy::kDefaultSteps;
  double guidance = 0;
  uint64_t seed = 4242;
};

constexpr int64_t kGridColumns = 8, kGridCell = 96;

void write_sample_grid(const std::string& path, const at::Tensor& images, const std::vector<std::string>& prompts) {
  ImageGrid grid;
  grid.title = "untwist toy probe: unshared samples of " + std::to_string(prompts.size()) +
               " random full prompts (numbered row by row)";
  const at::Tensor large = at::upsample_nearest2d(images, {kGridCell, kGridCell});
  for (int64_t first = 0; first < large.size(0); first += kGridColumns) {
    std::vector<at::Tensor> row;
    for (int64_t i = first; i < std::min(first + kGridColumns, large.size(0)); ++i) row.push_back(large[i]);
    grid.rows.push_back(row);
    grid.row_labels.push_back(std::to_string(first + 1) + "-" + std::to_string(first + row.size()));
  }
  std::string listing;
  for (size_t i = 0; i < prompts.size(); ++i) listing += std::to_string(i + 1) + ": " + prompts[i] + "\n";
  write_image_grid(path, grid, {{"untwist", grid.title}, {"prompts", listing}});
  std::cout << "\nwrote " << path << "; its prompts:\n" << listing;
}

void run_probe(const ProbeOptions& options) {
  const std::string model_path = find_toy_model(options.model);
  const toy::ToyModel model = toy::load_toy(model_path);
  const std::vector<toy::Scene> scenes = toy::probe_scenes(options.scenes, options.seed);

  toy::ToyRequest request;
  request.prompts = toy::full_prompts(scenes, model.text().vocabulary);
  for (size_t i = 0; i < scenes.size(); ++i) request.seeds.push_back(options.seed + i);
  request.steps = options.steps;
  request.guidance = options.guidance;
  const at::Tensor samples = toy::sample_toy(model, request);  // [N, 3, 32, 32]
  const toy::PromptFollowing following = toy::score_prompt_following(samples, scenes);
  std::printf("model %s\n\nunshared samples of %d random full prompts (%d Euler steps), share showing the prompted\n",
              model_path.c_str(), following.images, options.steps);
  std::printf("%12s %15s %10s %10s %10s %10s\n", "background", "object colour", "texture", "objects", "shape",
              "position");
  std::printf("%12.2f %15.2f %10.2f %10.2f %10.2f %10.2f\n", following.background, following.object_colour,
              following.texture, following.objects, following.shape, following.position);

  std::printf("\none model call on the %d rendered scenes noised to t, with their prompts (and with prompts naming\n"
              "another shape: the share showing the named shape says whether the model reads its shape word)\n",
              options.scenes);
  std::printf("%6s %16s %16s %16s\n", "t", "clean-image MSE", "prompted shape", "misnamed: named");
  nlohmann::json denoising = nlohmann::json::array();
  for (double t : {0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0}) {
    const toy::Denoising d = toy::denoise_from(model, scenes, t, options.seed);
    std::printf("%6.2f %16.4f %16.2f %16.2f\n", d.t, d.clean_mse, d.shape, d.named_shape);
    denoising.push_back({{"t", d.t}, {"clean_mse", d.clean_mse}, {"shape", d.shape}, {"named_shape", d.named_shape}});
  }
  if (!options.json.empty()) {
    const nlohmann::json result = {{"model", model_path},
                                   {"images", following.images},
                                   {"steps", options.steps},
                                   {"seed", options.seed},
                                   {"background", following.background},
                                   {"object_colour", following.object_colour},
                                   {"texture", following.texture},
                                   {"objects", following.objects},
                                   {"shape", following.shape},
                                   {"position", following.position},
                                   {"denoising", denoising}};
    write_file_atomically(options.json, result.dump(2) + "\n");
    std::cout << "\nwrote " << options.json << "\n";
  }
  if (!options.grid.empty()) write_sample_grid(options.grid, samples, request.prompts);
}

}  // namespace

void add_toy_probe_command(CLI::App& toy) {
  auto options = std::make_shared<ProbeOptions>();
  CLI::App* command = toy.add_subcommand("probe", "How well the model follows its prompts, unshared, in numbers");
  add_toy_model_option(*command, options->model);
  command->add_option("--scenes", options->scenes, "random full prompts to sample and scenes to denoise")
      ->check(CLI::Range(1, 1024))->capture_default_str();
  command->add_option("--steps", options->steps, "sampling steps")->check(CLI::Range(1, 1000))->capture_default_str();
  command->add_option("--guidance", options->guidance,
                      "classifier-free guidance against the empty prompt: v + g (v - v_empty), above 1")
      ->check(CLI::Range(0.0, 20.0))->capture_default_str();
  command->add_option("-s,--seed", options->seed, "seed of the scenes and their noise")->capture_default_str();
  command->add_option("--grid", options->grid, "also write the samples as one PNG");
  command->add_option("--json", options->json,
                      "also write the shares and the denoising table as JSON (background, object_colour, texture, "
                      "objects, shape, position, denoising)");
  command->callback([options] { run_probe(*options); });
}

}  // namespace untwist
