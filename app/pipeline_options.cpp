#include "pipeline_options.h"

#include <cctype>

#include "cli_values.h"
#include "util/device.h"

namespace untwist {

void PipelineFlags::add_to(CLI::App& command) {
  command.add_option("--model-dir", paths.model_dir, "a diffusers FLUX.1 folder (transformer/, vae/, ...)")
      ->check(CLI::ExistingDirectory);
  command.add_option("--model", paths.model, "FLUX transformer (flux1-dev.safetensors, ...)")->check(CLI::ExistingPath);
  command.add_option("--t5", paths.t5, "T5-XXL encoder (t5xxl_fp16.safetensors)")->check(CLI::ExistingPath);
  command.add_option("--clip", paths.clip, "CLIP-L text encoder (clip_l.safetensors)")->check(CLI::ExistingPath);
  command.add_option("--ae", paths.ae, "autoencoder (ae.safetensors)")->check(CLI::ExistingPath);
  command.add_option("--t5-tokenizer", paths.t5_tokenizer, "T5 spiece.model")->check(CLI::ExistingFile);
  command.add_option("--clip-tokenizer", paths.clip_tokenizer, "CLIP vocab.json or bpe_simple_vocab_16e6.txt.gz")
      ->check(CLI::ExistingPath);
  command.add_option("-W,--width", settings.width, "image width (multiple of 16)")
      ->check(CLI::Range(16, 8192))->capture_default_str();
  command.add_option("-H,--height", settings.height, "image height (multiple of 16)")
      ->check(CLI::Range(16, 8192))->capture_default_str();
  command.add_option("--steps", settings.steps, "sampling steps (default: 28 dev, 4 schnell)")->check(CLI::Range(1, 1000));
  command.add_option("--guidance", settings.guidance, "guidance (guidance-embedded models)")
      ->check(finite_range(0.0, 100.0))->capture_default_str();
  auto* on = command.add_flag("--shift", shift, "force the shifted schedule");
  command.add_flag("--no-shift", no_shift, "force the unshifted schedule")->excludes(on);
  command.add_option("--t5-max-length", settings.t5_max_length, "T5 tokens (default: 512 dev, 256 schnell)")
      ->check(CLI::Range(1, 4096));
  command.add_option("-s,--seed", seed, "seed of the first image; the others count up from it")->capture_default_str();
  command.add_option("--dtype", dtype, "compute dtype: float32 or bfloat16")
      ->check(CLI::IsMember({"float32", "bfloat16", "f32", "bf16", "fp32"}))->capture_default_str();
  command.add_option("-o,--output", output_dir, "output folder")->capture_default_str();
  command.add_option("--device", device, "where the transformer and autoencoder run: cpu, cuda or cuda:N")
      ->capture_default_str();
  command.add_flag("--low-memory", low_memory,
                   "hold the text encoders only while they encode, never beside the running transformer");
}

LoadSettings PipelineFlags::load_settings() const {
  return {parse_compute_dtype(dtype), parse_device(device), low_memory};
}

ImageSettings PipelineFlags::image_settings() const {
  ImageSettings s = settings;
  s.shift = shift ? 1 : (no_shift ? 0 : -1);
  return s;
}

nlohmann::json PipelineFlags::recipe(const Pipeline& pipeline) const {
  const FluxConfig& config = pipeline.dit->config();
  const ImageSettings s = image_settings();
  return {{"model", pipeline.paths.model},
          {"t5", pipeline.paths.t5},
          {"clip", pipeline.paths.clip},
          {"ae", pipeline.paths.ae},
          {"width", s.width},
          {"height", s.height},
          {"steps", s.steps_for(config)},
          {"guidance", s.guidance},
          {"shift", s.shift_for(config)},
          {"t5_max_length", s.t5_length_for(config)},
          {"dtype", dtype}};
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
