// `untwist style`: a style-aligned set from reference prompts or images and
// target prompts, in one sharing mode or side by side (--compare).
#include <filesystem>
#include <iostream>

#include "analysis/copy_meter.h"
#include "analysis/image_grid.h"
#include "cli_values.h"
#include "commands.h"
#include "io/atomic_file.h"
#include "io/image_file.h"
#include "pipeline/inversion.h"
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
  std::vector<std::string> ref_prompts, ref_images;
  std::vector<double> ref_weights;
  std::string ref_mode = "noise", ref_solver = "fireflow", ref_positions;  // empty: centre
  std::vector<double> ref_scales;
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

// The sharing modes to render: the chosen one, or none, full and untwisted
// side by side (--compare) with the chosen knobs.
std::vector<ShareSettings> modes_to_render(const StyleOptions& options) {
  const ShareSettings chosen = options.share.settings();
  if (!options.compare) return {chosen};
  std::vector<ShareSettings> modes;
  for (ShareMode mode : {ShareMode::None, ShareMode::Full, ShareMode::Untwisted}) {
    ShareSettings settings = chosen;
    settings.mode = mode;
    settings.adain = mode == ShareMode::Untwisted ? chosen.adain : 0.0;
    modes.push_back(settings);
  }
  return modes;
}

struct Reference {
  std::string prompt, image;  // image: empty where the reference is generated from its prompt
  double weight = 1.0;
  double scale = 1.0;  // an image's side as a multiple of the set's
};

// The references in order: each --ref-image, captioned by the --ref-prompt at
// its position when there is one; without images, each --ref-prompt. One
// --ref-weight per reference, or none (all 1); one --ref-scale per reference,
// one for all, or none (all 1).
std::vector<Reference> references_of(const StyleOptions& options) {
  const bool images = !options.ref_images.empty();
  if (!images && options.ref_prompts.empty()) {
    throw UsageError("give the reference: --ref-prompt TEXT or --ref-image FILE (each may be repeated)");
  }
  if (images && options.ref_prompts.size() > options.ref_images.size()) {
    throw UsageError("with --ref-image, each --ref-prompt is the caption of the image at its position: " +
                     std::to_string(options.ref_prompts.size()) + " prompts for " +
                     std::to_string(options.ref_images.size()) + " images");
  }
  std::vector<Reference> references(images ? options.ref_images.size() : options.ref_prompts.size());
  for (size_t r = 0; r < references.size(); ++r) {
    if (r < options.ref_prompts.size()) references[r].prompt = options.ref_prompts[r];
    if (images) references[r].image = options.ref_images[r];
  }
  if (!options.ref_weights.empty()) {
    if (options.ref_weights.size() != references.size()) {
      throw UsageError("give one --ref-weight per reference: " + std::to_string(options.ref_weights.size()) +
                       " weights for " + std::to_string(references.size()) + " references");
    }
    for (size_t r = 0; r < references.size(); ++r) references[r].weight = options.ref_weights[r];
  }
  if (!images && (!options.ref_scales.empty() || !options.ref_positions.empty())) {
    throw UsageError("--ref-scale and --ref-positions place reference images: give --ref-image");
  }
  const size_t scales = options.ref_scales.size();
  if (scales > 1 && scales != references.size()) {
    throw UsageError("give one --ref-scale for all references or one per reference: " + std::to_string(scales) +
                     " scales for " + std::to_string(references.size()) + " references");
  }
  for (size_t r = 0; r < references.size() && scales > 0; ++r) {
    references[r].scale = options.ref_scales[scales == 1 ? 0 : r];
  }
  return references;
}

// The image file of row `i` of a set with `references` reference rows.
std::string image_name(int64_t i, int64_t references, const std::string& prompt) {
  if (i >= references) return std::to_string(i - references + 1) + "-" + slug(prompt) + ".png";
  return references == 1 ? "reference.png" : "reference-" + std::to_string(i + 1) + ".png";
}

// One mode's images as PNGs in DIR/SUBFOLDER, each with its recipe (`recipe`
// plus its share settings, prompt, seed and role): -> the manifest's entry.
nlohmann::json write_set(const at::Tensor& images, const RenderRequest& request, const ShareSettings& settings,
                         const nlohmann::json& recipe, const std::string& dir, const std::string& subfolder) {
  nlohmann::json set = {{"share", share_json(settings)}, {"images", nlohmann::json::array()}};
  const auto references = static_cast<int64_t>(std::max<size_t>(1, settings.reference_weights.size()));
  for (int64_t i = 0; i < images.size(0); ++i) {
    const auto n = static_cast<size_t>(i);
    const std::string name = image_name(i, references, request.prompts[n]);
    nlohmann::json image_recipe = recipe;
    image_recipe["share"] = share_json(settings);
    image_recipe["prompt"] = request.prompts[n];
    image_recipe["seed"] = request.seeds[n];
    image_recipe["role"] = i < references ? "reference" : "target";
    // A reference image is written as the set used it: fitted, at its own size.
    const bool given = n < request.reference_images.size() && request.reference_images[n].defined();
    write_png(dir + "/" + subfolder + name, given ? request.reference_images[n] : images[i],
              {{"untwist", image_recipe.dump()}});
    set["images"].push_back({{"file", subfolder + name}, {"prompt", request.prompts[n]}, {"seed", request.seeds[n]}});
  }
  return set;
}

// --ref-mode invert: each image reference's inversion trajectory under its
// caption, encoded as row r of `captions` (entry r, [T + 1, L, C]), which its
// row then follows; undefined for references generated from their prompts.
std::vector<at::Tensor> inverted_paths(const Pipeline& pipeline, const TextConditioning& captions,
                                       const std::vector<at::Tensor>& images, const StyleOptions& options) {
  const InversionSolver solver = parse_inversion_solver(options.ref_solver);
  const ImageSettings& settings = options.pipeline.settings;
  int images_given = 0;
  for (const at::Tensor& image : images) images_given += image.defined() ? 1 : 0;
  Progress progress("inverting", images_given * solver_model_calls(solver, settings.steps_for(*pipeline.dit)));
  std::vector<at::Tensor> paths;
  for (size_t r = 0; r < images.size(); ++r) {
    if (!images[r].defined()) {
      paths.emplace_back();
      continue;
    }
    paths.push_back(reference_inversion_path(pipeline, images[r], text_row(captions, static_cast<int64_t>(r)),
                                             settings, solver, [&] { progress.step(); }));  // [T + 1, L, C]
  }
  return paths;
}

void run_style(const StyleOptions& options) {
  const std::vector<Reference> references = references_of(options);
  if (options.ref_mode == "invert" && options.ref_images.empty()) {
    throw UsageError("--ref-mode invert inverts reference images: give --ref-image");
  }
  std::vector<ShareSettings> modes = modes_to_render(options);
  if (references.size() > 1 || references[0].weight != 1.0) {
    for (ShareSettings& settings : modes) {
      for (const Reference& reference : references) settings.reference_weights.push_back(reference.weight);
    }
  }
  const ImageSettings image_settings = options.pipeline.settings;
  std::vector<at::Tensor> reference_images;  // read before the models load, so a bad image fails fast
  for (const Reference& reference : references) {
    reference_images.push_back(reference.image.empty() ? at::Tensor() : read_image(reference.image));
  }
  const auto pipeline = load_pipeline(options.pipeline.paths, options.pipeline.load_settings());
  for (size_t r = 0; r < references.size(); ++r) {  // its own shape at its scale of the set's size
    at::Tensor& image = reference_images[r];
    if (image.defined()) {
      image = fit_reference_image(image, image_settings.height_for(*pipeline->dit),
                                  image_settings.width_for(*pipeline->dit), references[r].scale, pipeline->ae->patch());
    }
  }
  for (const auto& settings : modes) {
    bind_to(settings, *pipeline->dit);  // a --blocks naming what the model lacks fails before sampling
  }

  RenderRequest request;
  for (const Reference& reference : references) request.prompts.push_back(reference.prompt);
  for (const auto& prompt : options.prompts) request.prompts.push_back(prompt);
  for (size_t i = 0; i < request.prompts.size(); ++i) request.seeds.push_back(options.pipeline.seed + i);
  request.settings = image_settings;
  request.reference_images = reference_images;
  request.reference_positions = parse_reference_positions(options.ref_positions.empty() ? "centre"
                                                                                      : options.ref_positions);
  const EncodedText text = encode_text(*pipeline, request.prompts, image_settings);  // once for every mode
  if (options.ref_mode == "invert") {
    request.reference_paths = inverted_paths(*pipeline, text.prompts, reference_images, options);
  }
  request.text = &text;
  const int steps = image_settings.steps_for(*pipeline->dit);
  Progress progress("sampling", steps * static_cast<int>(modes.size()));
  request.on_step = [&](int) { progress.step(); };

  const std::string& dir = options.pipeline.output_dir;
  std::filesystem::create_directories(dir);
  nlohmann::json manifest = options.pipeline.recipe(*pipeline);
  manifest["command"] = "style";
  manifest["reference_mode"] = options.ref_mode;
  if (options.ref_mode == "invert") manifest["reference_solver"] = options.ref_solver;
  manifest["reference_positions"] = reference_positions_name(request.reference_positions);
  manifest["references"] = nlohmann::json::array();
  ImageGrid grid;
  grid.title = "reference: ";
  for (const Reference& reference : references) {
    nlohmann::json entry = {{"prompt", reference.prompt}, {"weight", reference.weight}};
    const at::Tensor& image = reference_images[manifest["references"].size()];
    if (!reference.image.empty()) {
      entry["image"] = reference.image;
      entry["scale"] = reference.scale;
      entry["size"] = {image.size(2), image.size(1)};  // width, height as sampled
    }
    manifest["references"].push_back(entry);
    grid.title += (&reference == &references.front() ? "" : ", ") +
                  (reference.image.empty() ? reference.prompt : reference.image);
    const std::string number = std::to_string(manifest["references"].size());
    grid.column_labels.push_back(references.size() == 1 ? "reference" : "reference " + number);
  }
  manifest["sets"] = nlohmann::json::array();
  for (const auto& prompt : options.prompts) grid.column_labels.push_back(prompt);

  for (const ShareSettings& settings : modes) {
    request.share = &settings;
    const auto [grid_h, grid_w] = token_grid_for(*pipeline, image_settings);
    at::Tensor placed;  // the first reference's positions when it has a grid of its own
    if (reference_images[0].defined()) {
      const TokenGrid own = image_token_grid(*pipeline, reference_images[0]);
      placed = reference_grid_positions(own, {grid_h, grid_w}, request.reference_positions);
    }
    CopyMeter meter(grid_h, grid_w, placed);
    request.observer = options.meter ? &meter : nullptr;
    const at::Tensor images = render(*pipeline, request);  // [references + targets, 3, H, W]
    const std::string mode = share_mode_name(settings.mode);
    const std::string subfolder = options.compare ? mode + "/" : "";
    std::filesystem::create_directories(dir + "/" + subfolder);
    if (options.meter) write_file_atomically(dir + "/" + subfolder + "meter.json", meter.to_json().dump(2) + "\n");
    manifest["sets"].push_back(
        write_set(images, request, settings, options.pipeline.recipe(*pipeline), dir, subfolder));
    std::vector<at::Tensor> row;
    for (int64_t i = 0; i < images.size(0); ++i) row.push_back(images[i]);
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
  command->add_option("--ref-prompt", options->ref_prompts,
                      "a reference, generated from this prompt (with --ref-image: the caption of the image at the "
                      "same position); repeat for several")
      ->check(utf8_text());
  command->add_option("--ref-image", options->ref_images,
                      "a reference image, any size: it keeps its aspect ratio (see --ref-scale) and, where that "
                      "differs from the set's, a token grid of its own; repeat for several")
      ->check(CLI::ExistingFile);
  command->add_option("--ref-scale", options->ref_scales,
                      "a reference image's side as a multiple of the set's (default 1: the same area), one for all "
                      "or one per reference in order")
      ->check(finite_range(0.125, 4.0));
  command->add_option("--ref-positions", options->ref_positions,
                      "where a reference on a grid of its own sits on the set's: centre (centres aligned, whole "
                      "tokens) | corner (from the top left, as the model would place it alone) | scale (stretched "
                      "over the set's grid); default centre")
      ->check(CLI::IsMember(reference_positions_names()));
  command->add_option("--ref-weight", options->ref_weights,
                      "each reference's weight, in order (default 1): log w is added to its attention logits, so 2 "
                      "doubles its share and 0 removes it")
      ->check(finite_range(0.0, 1000.0));
  command->add_option("--ref-mode", options->ref_mode,
                      "how a reference image's row is noised: noise (along the schedule with its seed's noise) | "
                      "invert (the model's inversion of the image under its caption, reconstructed faithfully)")
      ->check(CLI::IsMember({"noise", "invert"}))->capture_default_str();
  command->add_option("--ref-solver", options->ref_solver,
                      "with --ref-mode invert, the inversion solver: " + joined_names(inversion_solver_names()))
      ->check(CLI::IsMember(inversion_solver_names()))->capture_default_str();
  command->add_option("-p,--prompt", options->prompts, "target prompt (repeat for several)")
      ->check(utf8_text())->required();
  command->add_flag("--compare", options->compare, "none | full | untwisted side by side, same seeds");
  command->add_flag("--meter", options->meter, "record the copying meter per block and step (meter.json)");
  options->share.add_to(*command, "--mode");
  options->pipeline.add_to(*command);
  command->callback([options] { run_style(*options); });
}

}  // namespace untwist
