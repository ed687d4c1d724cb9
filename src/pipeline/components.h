// The parts of a FLUX.1 text-to-image pipeline, loaded from the files users
// have: BFL/ComfyUI single files, or a diffusers folder (transformer/,
// text_encoder/, text_encoder_2/, tokenizer/, tokenizer_2/, vae/, with sharded
// weights and their *.index.json). Checked to fit together.
#pragma once
#include <ATen/ATen.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io/weights.h"
#include "model/autoencoder.h"
#include "model/clip_text.h"
#include "model/clip_tokenizer.h"
#include "model/flux1/flux.h"
#include "model/t5_encoder.h"
#include "model/t5_tokenizer.h"

namespace untwist {

struct ComponentPaths {
  std::string model_dir;  // a diffusers folder; fills whatever is not given below
  std::string model, t5, clip, ae, t5_tokenizer, clip_tokenizer;
};

struct Pipeline {
  ComponentPaths paths;  // resolved
  // The text encoders exist only while they encode (loaded for it, released
  // after), so their memory and the transformer's are never needed at once.
  bool low_memory = false;
  std::unique_ptr<FluxModel> dit;
  std::unique_ptr<T5Encoder> t5;        // null between encodings when low_memory
  std::unique_ptr<ClipTextModel> clip;  // null between encodings when low_memory
  std::unique_ptr<Autoencoder> ae;
  std::unique_ptr<T5Tokenizer> t5_tokenizer;
  std::unique_ptr<ClipTokenizer> clip_tokenizer;
};

// Fills the paths a diffusers folder provides; UsageError naming what is missing.
ComponentPaths resolve_components(const ComponentPaths& given);

struct LoadSettings {
  at::ScalarType dtype = at::kFloat;  // the transformer's and autoencoder's compute dtype
  at::Device device = at::kCPU;       // where they run; the text encoders run on the CPU
  bool low_memory = false;            // see Pipeline::low_memory
};

// Loads and cross-checks every component (DataError naming the file that does
// not fit). With low_memory the text encoders are checked but not loaded.
std::unique_ptr<Pipeline> load_pipeline(const ComponentPaths& given, const LoadSettings& settings);

// Checks T5 and CLIP from the pipeline's paths against its transformer and,
// unless check_only, loads them into the pipeline.
void load_text_encoders(Pipeline& pipeline, bool check_only = false);

}  // namespace untwist
