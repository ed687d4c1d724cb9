#include "pipeline_options.h"

#include <cctype>

#include "cli_values.h"
#include "sampling_options.h"
#include "util/device.h"

namespace untwist {

void PipelineFlags::add_to(CLI::App& command) {
  command.add_option("--model-dir", paths.model_dir, "a diffusers FLUX.1, FLUX.2 or Z-Image folder (transformer/, vae/, ...)")
      ->check(CLI::ExistingDirectory);
  command.add_option("--model", paths.model, "transformer (flux1-dev.safetensors, flux-2-klein-4b.safetensors, z_image_turbo_bf16.safetensors, ...)")
      ->check(CLI::ExistingPath);
  command.add_option("--ae", paths.ae, "autoencoder (ae.safetensors, flux2-vae.safetensors)")->check(CLI::ExistingPath);
  command.add_option("--t5", paths.text.t5, "FLUX.1: T5-XXL encoder (t5xxl_fp16.safetensors)")->check(CLI::ExistingPath);
  command.add_option("--clip", paths.text.clip, "FLUX.1: CLIP-L text encoder (clip_l.safetensors)")
      ->check(CLI::ExistingPath);
  command.add_option("--t5-tokenizer", paths.text.t5_tokenizer, "FLUX.1: T5 spiece.model")->check(CLI::ExistingFile);
  command.add_option("--clip-tokenizer", paths.text.clip_tokenizer,
                     "FLUX.1: CLIP vocab.json or bpe_simple_vocab_16e6.txt.gz")
      ->check(CLI::ExistingPath);
  command.add_option("--text-encoder", paths.text.text_encoder, "FLUX.2 [klein], Z-Image: Qwen3 encoder (qwen_3_4b.safetensors)")
      ->check(CLI::ExistingPath);
  command.add_option("--tokenizer", paths.text.tokenizer, "FLUX.2 [klein], Z-Image: Qwen3 tokenizer.json (or its folder)")
      ->check(CLI::ExistingPath);
  command.add_option("-W,--width", settings.width,
                     "image width, a multiple of the token patch (default: the model's; FLUX and Z-Image 1024, "
                     "patch 16; the toy 32, patch 2)")
      ->check(CLI::Range(16, 8192));
  command.add_option("-H,--height", settings.height, "image height (default: the model's, as -W)")
      ->check(CLI::Range(16, 8192));
  add_sampling_options(command, settings,
                       "sampling steps (default: FLUX.1 dev 28, schnell 4; FLUX.2 dev 50, klein 4; Z-Image 8)");
  command.add_option("--negative-prompt", settings.negative_prompt, "Z-Image with guidance: the negative prompt")
      ->check(utf8_text());
  command.add_option("--t5-max-length", t5_max_length, "FLUX.1: T5 tokens (default: 512 dev, 256 schnell)")
      ->check(CLI::Range(1, 4096));
  command.add_option("-s,--seed", seed, "seed of the first image; the others count up from it")->capture_default_str();
  add_dtype_option(command, dtype);
  command.add_option("-o,--output", output_dir, "output folder")->capture_default_str();
  command.add_option("--device", device, "where the transformer and autoencoder run: cpu, cuda or cuda:N")
      ->capture_default_str();
  command.add_flag("--low-memory", low_memory,
                   "hold the text encoders only while they encode, never beside the running transformer");
}

LoadSettings PipelineFlags::load_settings() const {
  const at::Device where = parse_device(device);
  return {parse_compute_dtype(dtype, where), where, TextSettings{t5_max_length, low_memory}};
}

nlohmann::json PipelineFlags::recipe(const Pipeline& pipeline) const {
  const DiffusionTransformer& dit = *pipeline.dit;
  const ImageSettings& s = settings;
  nlohmann::json recipe = {{"family", dit.family()},
                           {"variant", dit.variant()},
                           {"model", pipeline.paths.model},
                           {"width", s.width_for(dit)},
                           {"height", s.height_for(dit)},
                           {"steps", s.steps_for(dit)},
                           {"guidance", s.guidance_for(dit)},
                           {"dtype", dtype_name(load_settings().dtype)}};
  const TextFiles& text = pipeline.paths.text;
  for (const auto& [key, path] : {std::pair{"ae", pipeline.paths.ae}, {"t5", text.t5}, {"clip", text.clip},
                                  {"text_encoder", text.text_encoder}}) {
    if (!path.empty()) recipe[key] = path;
  }
  if (s.shift) recipe["shift"] = *s.shift;
  if (t5_max_length > 0) recipe["t5_max_length"] = t5_max_length;
  if (dit.classifier_free_guidance() && s.guidance_for(dit) > 1.0) {
    recipe["negative_prompt"] = s.negative_prompt;
    recipe["cfg_truncation"] = s.cfg_truncation;
    recipe["cfg_normalization"] = s.cfg_normalization;
  }
  return recipe;
}

std::string slug(const std::string& prompt) {
  std::string out;
  for (unsigned char c : prompt) {
    if (std::isalnum(c)) out += static_cast<char>(std::tolower(c));
    else if (!out.empty() && out.back() != '-') out += '-';
    if (out.size() >= 40) break;
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out.empty() ? "image" : out;
}

}  // namespace untwist
