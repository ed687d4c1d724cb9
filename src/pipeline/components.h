// The parts of a text-to-image pipeline of any family, loaded from the files
// users have: BFL/ComfyUI single files, or a diffusers folder (transformer/,
// vae/, the family's text encoders and tokenizers, with sharded weights and
// their *.index.json). The family comes from the transformer's weights; the
// parts are checked to fit together. The toy checkpoint is a whole pipeline
// by itself: its text side is in the file and it works on pixels.
#pragma once
#include <ATen/ATen.h>

#include <memory>
#include <string>

#include "model/dit.h"
#include "model/families.h"
#include "model/latent_autoencoder.h"
#include "model/text_conditioner.h"

namespace untwist {

struct ComponentPaths {
  std::string model_dir;  // a diffusers folder; fills whatever is not given below
  std::string model, ae;  // ae: empty for a family without an autoencoder file (the toy)
  TextFiles text;
};

struct Pipeline {
  ComponentPaths paths;  // resolved
  std::unique_ptr<DiffusionTransformer> dit;
  std::unique_ptr<TextConditioner> text;
  std::unique_ptr<LatentAutoencoder> ae;
};

struct LoadSettings {
  at::ScalarType dtype = at::kFloat;  // the transformer's and autoencoder's compute dtype
  at::Device device = at::kCPU;       // where they run; the text encoders run on the CPU
  TextSettings text;                  // T5 length, low memory
};

// Loads and cross-checks every component: UsageError naming a missing
// component, DataError naming the file that does not fit.
std::unique_ptr<Pipeline> load_pipeline(const ComponentPaths& given, const LoadSettings& settings);

}  // namespace untwist
