#include "pipeline/components.h"

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "io/file_bytes.h"
#include "io/weights.h"
#include "util/errors.h"

namespace untwist {

namespace fs = std::filesystem;

namespace {

constexpr uint64_t kMaxConfigBytes = 64ull << 20;

std::string first_existing(const fs::path& folder, const std::vector<std::string>& names) {
  for (const auto& name : names) {
    if (fs::exists(folder / name)) return (folder / name).string();
  }
  return "";
}

// A diffusers transformer folder states its RoPE axes in config.json.
RopeOverride rope_from_folder(const std::string& path) {
  RopeOverride rope;
  const fs::path config_path = fs::path(path) / "config.json";
  if (!fs::is_directory(path) || !fs::exists(config_path)) return rope;
  const auto config = nlohmann::json::parse(read_file_bytes(config_path.string(), kMaxConfigBytes), nullptr, false);
  if (!config.is_object()) fail_file(config_path.string(), "is not a JSON object");
  const auto axes = config.find("axes_dims_rope");
  if (axes == config.end()) return rope;
  if (!axes->is_array()) fail_file(config_path.string(), "axes_dims_rope is not an array of integers");
  std::vector<int64_t> dims;
  for (const auto& dim : *axes) {
    if (!dim.is_number_unsigned()) fail_file(config_path.string(), "axes_dims_rope holds a non-integer");
    dims.push_back(dim.get<int64_t>());
  }
  rope.axes_dim = dims;
  return rope;
}

}  // namespace

ComponentPaths resolve_components(const ComponentPaths& given) {
  ComponentPaths paths = given;
  if (!paths.model_dir.empty()) {
    const fs::path dir = paths.model_dir;
    if (!fs::is_directory(dir)) throw UsageError("--model-dir '" + paths.model_dir + "' is not a folder");
    auto fill = [&](std::string& slot, const std::string& sub) {
      if (slot.empty() && fs::is_directory(dir / sub)) slot = (dir / sub).string();
    };
    fill(paths.model, "transformer");
    fill(paths.clip, "text_encoder");
    fill(paths.t5, "text_encoder_2");
    fill(paths.ae, "vae");
    if (paths.clip_tokenizer.empty()) paths.clip_tokenizer = first_existing(dir / "tokenizer", {"vocab.json"});
    if (paths.t5_tokenizer.empty()) paths.t5_tokenizer = first_existing(dir / "tokenizer_2", {"spiece.model"});
  }
  const std::vector<std::pair<std::string, std::string>> required = {
      {paths.model, "--model (the FLUX transformer)"}, {paths.t5, "--t5 (T5-XXL encoder)"},
      {paths.clip, "--clip (CLIP-L text encoder)"},     {paths.ae, "--ae (autoencoder)"},
      {paths.t5_tokenizer, "--t5-tokenizer (spiece.model)"},
      {paths.clip_tokenizer, "--clip-tokenizer (vocab.json or bpe_simple_vocab_16e6.txt.gz)"}};
  for (const auto& [path, what] : required) {
    if (path.empty()) throw UsageError("missing component: give " + what + " or a --model-dir that holds it");
    if (!fs::exists(path)) throw UsageError("component file '" + path + "' does not exist");
  }
  return paths;
}

namespace {

// A component fits when its width is what the transformer was trained with.
void require_fit(const Pipeline& pipeline, const std::string& path, const std::string& found, int64_t value,
                 const std::string& expected, int64_t wanted) {
  if (value != wanted) {
    fail_file(path, found + " " + std::to_string(value) + " does not fit the transformer's " + expected + " " +
                        std::to_string(wanted) + " (" + pipeline.paths.model + ")");
  }
}

}  // namespace

void load_text_encoders(Pipeline& pipeline, bool check_only) {
  const ComponentPaths& paths = pipeline.paths;
  const FluxConfig& config = pipeline.dit->config();
  {
    const Weights weights = load_component(paths.t5);
    const T5Config t5 = detect_t5_config(weights);
    require_fit(pipeline, paths.t5, "T5 width", t5.d_model, "context_in_dim", config.context_in_dim);
    if (!check_only) pipeline.t5 = std::make_unique<T5Encoder>(weights, t5);
  }
  {
    const Weights weights = load_component(paths.clip);
    const ClipTextConfig clip = detect_clip_text_config(weights);
    require_fit(pipeline, paths.clip, "CLIP width", clip.width, "vec_in_dim", config.vec_in_dim);
    if (!check_only) pipeline.clip = std::make_unique<ClipTextModel>(weights, clip);
  }
}

std::unique_ptr<Pipeline> load_pipeline(const ComponentPaths& given, const LoadSettings& settings) {
  auto pipeline = std::make_unique<Pipeline>();
  pipeline->paths = resolve_components(given);
  pipeline->low_memory = settings.low_memory;
  const ComponentPaths& paths = pipeline->paths;
  {
    const Weights weights = load_component(paths.model);
    pipeline->dit =
        std::make_unique<FluxModel>(weights, detect_flux_config(weights, rope_from_folder(paths.model)),
                                    settings.dtype, settings.device);
  }
  load_text_encoders(*pipeline, /*check_only=*/settings.low_memory);
  {
    const Weights weights = load_component(paths.ae);
    const AutoencoderConfig ae = detect_autoencoder_config(weights);
    require_fit(*pipeline, paths.ae, "autoencoder input width (4 x latent channels)", 4 * ae.z_channels,
                "in_channels", pipeline->dit->config().in_channels);
    pipeline->ae = std::make_unique<Autoencoder>(weights, ae, settings.dtype, settings.device);
  }
  pipeline->t5_tokenizer = std::make_unique<T5Tokenizer>(T5Tokenizer::load(paths.t5_tokenizer));
  pipeline->clip_tokenizer = std::make_unique<ClipTokenizer>(ClipTokenizer::load(paths.clip_tokenizer));
  return pipeline;
}

}  // namespace untwist
