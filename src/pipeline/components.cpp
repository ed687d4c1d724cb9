#include "pipeline/components.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "io/component_files.h"
#include "io/file_bytes.h"
#include "io/weights.h"
#include "util/errors.h"

namespace untwist {

namespace fs = std::filesystem;

namespace {

constexpr uint64_t kMaxConfigBytes = 64ull << 20;

// A diffusers transformer folder states its RoPE axes in config.json
// (axes_dims_rope for FLUX, axes_dims and rope_theta for Z-Image).
RopeOverride rope_from_folder(const std::string& path) {
  RopeOverride rope;
  const fs::path config_path = fs::path(path) / "config.json";
  if (!fs::is_directory(path) || !fs::exists(config_path)) return rope;
  const auto config = nlohmann::json::parse(read_file_bytes(config_path.string(), kMaxConfigBytes), nullptr, false);
  if (!config.is_object()) fail_file(config_path.string(), "is not a JSON object");
  const auto theta = config.find("rope_theta");
  if (theta != config.end()) {
    if (!theta->is_number()) fail_file(config_path.string(), "rope_theta is not a number");
    rope.theta = theta->get<double>();
  }
  for (const char* key : {"axes_dims_rope", "axes_dims"}) {
    const auto axes = config.find(key);
    if (axes == config.end()) continue;
    if (!axes->is_array()) fail_file(config_path.string(), std::string(key) + " is not an array of integers");
    std::vector<int64_t> dims;
    for (const auto& dim : *axes) {
      if (!dim.is_number_unsigned()) fail_file(config_path.string(), std::string(key) + " holds a non-integer");
      dims.push_back(dim.get<int64_t>());
    }
    rope.axes_dim = dims;
  }
  return rope;
}

void require_exists(const std::string& path, const std::string& what) {
  if (path.empty()) throw UsageError("missing component: give " + what + " or a --model-dir that holds it");
  if (!fs::exists(path)) throw UsageError("component file '" + path + "' does not exist");
}

}  // namespace

std::unique_ptr<Pipeline> load_pipeline(const ComponentPaths& given, const LoadSettings& settings) {
  auto pipeline = std::make_unique<Pipeline>();
  ComponentPaths& paths = pipeline->paths;
  paths = given;
  const fs::path dir = paths.model_dir;
  if (!paths.model_dir.empty()) {
    if (!fs::is_directory(dir)) throw UsageError("--model-dir '" + paths.model_dir + "' is not a folder");
    if (paths.model.empty() && fs::is_directory(dir / "transformer")) paths.model = (dir / "transformer").string();
    if (paths.ae.empty() && fs::is_directory(dir / "vae")) paths.ae = (dir / "vae").string();
  }
  require_exists(paths.model, "--model (the transformer)");
  pipeline->dit = load_dit(load_component(paths.model), rope_from_folder(paths.model), settings.dtype,
                           settings.device);
  const DiffusionTransformer& dit = *pipeline->dit;
  pipeline->ae = built_in_latent_autoencoder(dit);  // the toy works on pixels
  if (pipeline->ae) {
    if (!given.ae.empty()) {
      throw UsageError("this " + dit.family() + " " + dit.variant() + " model takes no autoencoder: leave out --ae");
    }
    paths.ae.clear();
  } else {
    require_exists(paths.ae, "--ae (the autoencoder)");
  }

  if (!paths.model_dir.empty()) fill_text_files_from_folder(dit, paths.model_dir, paths.text);
  const std::vector<std::string> missing = missing_text_files(dit, paths.text);
  if (!missing.empty()) {
    throw UsageError("missing component for this " + dit.family() + " " + dit.variant() + " model: give " +
                     missing.front() + " or a --model-dir that holds it");
  }
  for (const std::string* path : {&paths.text.t5, &paths.text.clip, &paths.text.t5_tokenizer,
                                  &paths.text.clip_tokenizer, &paths.text.text_encoder, &paths.text.tokenizer}) {
    if (!path->empty()) require_exists(*path, *path);
  }
  pipeline->text = load_text_conditioner(dit, paths.text, settings.text);

  if (!pipeline->ae) {
    pipeline->ae = load_latent_autoencoder(dit, load_component(paths.ae), settings.dtype, settings.device);
  }
  if (pipeline->ae->token_channels() != dit.in_channels()) {
    fail_file(paths.ae.empty() ? paths.model : paths.ae,
              "autoencoder tokens have " + std::to_string(pipeline->ae->token_channels()) +
                  " channels; the transformer (" + paths.model + ") takes " + std::to_string(dit.in_channels()));
  }
  return pipeline;
}

}  // namespace untwist
