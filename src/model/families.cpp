#include "model/families.h"

#include <filesystem>

#include "io/weights.h"
#include "model/autoencoder_config.h"
#include "model/flux1/flux.h"
#include "model/flux1/flux1_latents.h"
#include "model/flux1/packing.h"
#include "model/flux1/t5_clip_conditioner.h"
#include "model/flux2/flux2.h"
#include "model/flux2/klein_conditioner.h"
#include "model/flux2/latent_format.h"
#include "model/toy/pixel_latents.h"
#include "model/toy/toy_conditioner.h"
#include "model/toy/toy_model.h"
#include "model/zimage/comfy_names.h"
#include "model/zimage/zimage.h"
#include "model/zimage/zimage_conditioner.h"
#include "model/zimage/zimage_latents.h"
#include "util/errors.h"

namespace untwist {

namespace fs = std::filesystem;

std::unique_ptr<DiffusionTransformer> load_dit(const Weights& weights, const RopeOverride& rope,
                                               at::ScalarType compute_dtype, at::Device device) {
  if (toy::is_toy_checkpoint(weights)) return toy::load_toy_transformer(weights, rope, compute_dtype, device);
  if (is_zimage_transformer(weights)) {
    const Weights named = zimage_reference_names(weights);
    return std::make_unique<ZImageModel>(named, detect_zimage_config(named, weights.metadata_config(), rope),
                                         compute_dtype, device);
  }
  if (is_flux2_transformer(weights)) {
    return std::make_unique<Flux2Model>(weights, detect_flux2_config(weights, rope), compute_dtype, device);
  }
  return std::make_unique<FluxModel>(weights, detect_flux_config(weights, rope), compute_dtype, device);
}

std::unique_ptr<LatentAutoencoder> load_latent_autoencoder(const Weights& weights, at::ScalarType compute_dtype,
                                                           at::Device device) {
  if (detect_autoencoder_family(weights) == AutoencoderFamily::Flux2) {
    return std::make_unique<Flux2Latents>(weights, compute_dtype, device);
  }
  return std::make_unique<Flux1Latents>(weights, compute_dtype, device);
}

std::unique_ptr<LatentAutoencoder> built_in_latent_autoencoder(const DiffusionTransformer& model) {
  if (dynamic_cast<const toy::ToyTransformer*>(&model)) return std::make_unique<toy::PixelLatents>();
  return nullptr;
}

std::unique_ptr<LatentAutoencoder> load_latent_autoencoder(const DiffusionTransformer& model, const Weights& weights,
                                                           at::ScalarType compute_dtype, at::Device device) {
  if (model.family() == "zimage") return std::make_unique<ZImageLatents>(weights, compute_dtype, device);
  return load_latent_autoencoder(weights, compute_dtype, device);
}

ImageTokens latent_to_tokens(const DiffusionTransformer& model, const at::Tensor& latent) {
  if (latent.dim() != 4) throw InputError("latent of shape " + shape_string(latent.sizes().vec()) + " is not [B, C, H, W]");
  if (const auto* zimage = dynamic_cast<const ZImageModel*>(&model)) {
    const int64_t patch = zimage->config().patch;
    return {zimage_patchify(latent, patch), latent.size(2) / patch, latent.size(3) / patch};
  }
  if (model.family() == "flux1") return {pack_latents(latent), latent.size(2) / 2, latent.size(3) / 2};
  throw UsageError("the " + model.family() + " family's runner inputs are image tokens (in.img), not latents");
}

at::Tensor tokens_to_latent(const DiffusionTransformer& model, const at::Tensor& tokens, int64_t rows, int64_t cols) {
  if (const auto* zimage = dynamic_cast<const ZImageModel*>(&model)) {
    return zimage_unpatchify(tokens, rows, cols, zimage->config().patch);
  }
  if (model.family() == "flux1") return unpack_latents(tokens, rows, cols);
  throw UsageError("the " + model.family() + " family's runner outputs are image tokens, not latents");
}

void fill_text_files_from_folder(const DiffusionTransformer& model, const std::string& folder, TextFiles& files) {
  const fs::path dir = folder;
  const auto fill = [&](std::string& slot, const fs::path& path) {
    if (slot.empty() && fs::exists(dir / path)) slot = (dir / path).string();
  };
  if (dynamic_cast<const toy::ToyTransformer*>(&model)) return;
  if (model.family() == "flux1") {
    fill(files.clip, "text_encoder");
    fill(files.t5, "text_encoder_2");
    fill(files.clip_tokenizer, fs::path("tokenizer") / "vocab.json");
    fill(files.t5_tokenizer, fs::path("tokenizer_2") / "spiece.model");
  } else if (model.family() == "flux2" || model.family() == "zimage") {
    fill(files.text_encoder, "text_encoder");
    fill(files.tokenizer, fs::path("tokenizer") / "tokenizer.json");
  }
}

std::vector<std::string> missing_text_files(const DiffusionTransformer& model, const TextFiles& files) {
  std::vector<std::pair<std::string, std::string>> needed;
  if (dynamic_cast<const toy::ToyTransformer*>(&model)) return {};
  if (model.family() == "flux1") {
    needed = {{files.t5, "--t5 (T5-XXL encoder)"},
              {files.clip, "--clip (CLIP-L text encoder)"},
              {files.t5_tokenizer, "--t5-tokenizer (spiece.model)"},
              {files.clip_tokenizer, "--clip-tokenizer (vocab.json or bpe_simple_vocab_16e6.txt.gz)"}};
  } else if ((model.family() == "flux2" && model.variant() == "klein") || model.family() == "zimage") {
    needed = {{files.text_encoder, "--text-encoder (Qwen3, e.g. qwen_3_4b.safetensors)"},
              {files.tokenizer, "--tokenizer (Qwen3 tokenizer.json)"}};
  }
  std::vector<std::string> missing;
  for (const auto& [path, what] : needed) {
    if (path.empty()) missing.push_back(what);
  }
  return missing;
}

std::unique_ptr<TextConditioner> load_text_conditioner(const DiffusionTransformer& model, const TextFiles& files,
                                                       const TextSettings& settings) {
  if (const auto* toy_model = dynamic_cast<const toy::ToyTransformer*>(&model)) {
    return std::make_unique<toy::ToyConditioner>(toy_model->text());
  }
  if (const auto* flux1 = dynamic_cast<const FluxModel*>(&model)) {
    const FluxConfig& config = flux1->config();
    const int64_t length = settings.t5_max_length > 0 ? settings.t5_max_length : (config.guidance_embed ? 512 : 256);
    return std::make_unique<T5ClipConditioner>(T5ClipFiles{files.t5, files.clip, files.t5_tokenizer,
                                                           files.clip_tokenizer},
                                               config.context_in_dim, config.vec_in_dim, length, settings.low_memory);
  }
  if (const auto* flux2 = dynamic_cast<const Flux2Model*>(&model)) {
    if (flux2->config().guidance_embed) {
      throw UsageError("FLUX.2 [dev]'s text encoder (Mistral Small 3.x) is not supported yet; untwist runs "
                       "FLUX.2 [klein] end to end, and [dev]'s transformer through `untwist dit`");
    }
    return std::make_unique<KleinConditioner>(Qwen3TextFiles{files.text_encoder, files.tokenizer},
                                              flux2->config().context_in_dim, settings.low_memory);
  }
  if (const auto* zimage = dynamic_cast<const ZImageModel*>(&model)) {
    return std::make_unique<ZImageConditioner>(Qwen3TextFiles{files.text_encoder, files.tokenizer},
                                               zimage->config().cap_feat_dim, settings.low_memory);
  }
  throw UsageError("no text conditioner for the " + model.family() + " family");
}

}  // namespace untwist
