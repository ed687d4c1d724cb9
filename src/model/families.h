// The one place that knows every model family: picks the family from the
// weights' names and builds its transformer, its autoencoder's latent format,
// and its text conditioner.
#pragma once
#include <ATen/ATen.h>

#include <memory>
#include <string>

#include "model/dit.h"
#include "model/latent_autoencoder.h"
#include "model/rope_config.h"
#include "model/text_conditioner.h"

namespace untwist {

class Weights;

// The toy (toy_text tensors or metadata kind "untwist-toy"), Z-Image (its
// learned pad tokens), FLUX.2 (its shared modulations) or FLUX.1; a DataError
// naming the file when the weights are none of them.
std::unique_ptr<DiffusionTransformer> load_dit(const Weights& weights, const RopeOverride& rope = {},
                                               at::ScalarType compute_dtype = at::kFloat,
                                               at::Device device = at::kCPU);

// FLUX.2's (BatchNorm statistics present) or FLUX.1's latent format.
std::unique_ptr<LatentAutoencoder> load_latent_autoencoder(const Weights& weights,
                                                           at::ScalarType compute_dtype = at::kFloat,
                                                           at::Device device = at::kCPU);
// The latent format of a family that works without an autoencoder file (the
// toy: pixels packed 2x2), or null when `model` needs one.
std::unique_ptr<LatentAutoencoder> built_in_latent_autoencoder(const DiffusionTransformer& model);

// The latent format `model` takes: Z-Image's patchify over FLUX.1's
// autoencoder; for the FLUX families as the weights say.
std::unique_ptr<LatentAutoencoder> load_latent_autoencoder(const DiffusionTransformer& model, const Weights& weights,
                                                           at::ScalarType compute_dtype = at::kFloat,
                                                           at::Device device = at::kCPU);

// A latent [B, C, H, W] as the image tokens [B, rows * cols, C'] `model`
// takes (FLUX.1 and the toy: 2x2 packed, channels (c, 2, 2); Z-Image: its own 2x2
// patchify, channels (2, 2, c)), and back; UsageError for FLUX.2, whose
// latents are tokens already.
struct ImageTokens {
  at::Tensor tokens;
  int64_t rows = 0, cols = 0;
};
ImageTokens latent_to_tokens(const DiffusionTransformer& model, const at::Tensor& latent);
at::Tensor tokens_to_latent(const DiffusionTransformer& model, const at::Tensor& tokens, int64_t rows, int64_t cols);

// The text files a family may need; each family reads the ones it uses (the
// toy none: its text side is in its checkpoint).
struct TextFiles {
  std::string t5, clip, t5_tokenizer, clip_tokenizer;  // FLUX.1
  std::string text_encoder, tokenizer;                 // FLUX.2 [klein], Z-Image: Qwen3 weights, tokenizer.json
};

struct TextSettings {
  int64_t t5_max_length = 0;  // FLUX.1: 0 means 512 for guidance-embedded models, else 256
  bool low_memory = false;    // hold the encoders only while they encode
};

// Fills what `files` lacks from a diffusers folder of `model`'s family
// (FLUX.1: text_encoder/ CLIP, text_encoder_2/ T5, tokenizer/vocab.json,
// tokenizer_2/spiece.model; FLUX.2 [klein] and Z-Image: text_encoder/ Qwen3,
// tokenizer/tokenizer.json).
void fill_text_files_from_folder(const DiffusionTransformer& model, const std::string& folder, TextFiles& files);

// The names of the files `model`'s family needs that `files` lacks, each as
// "--flag (what)"; empty when nothing is missing.
std::vector<std::string> missing_text_files(const DiffusionTransformer& model, const TextFiles& files);

// The text conditioner of `model`'s family, checked to fit it (DataError
// naming the file that does not); UsageError for a family whose text encoder
// untwist does not run yet.
std::unique_ptr<TextConditioner> load_text_conditioner(const DiffusionTransformer& model, const TextFiles& files,
                                                       const TextSettings& settings);

}  // namespace untwist
