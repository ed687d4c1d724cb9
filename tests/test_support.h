// Shared helpers for the tests: golden files, tolerances, running the binary.
#pragma once
#include <ATen/ATen.h>

#include <map>
#include <string>
#include <vector>

#include "io/weights.h"
#include "model/dit.h"

namespace untwist {
class SafetensorsFile;
}

namespace untwist::test {

// FLUX.2 transformer weights under reference names written in diffusers'
// Flux2Transformer2DModel layout, as diffusers' convert_flux2_to_diffusers.py
// does: q, k, v split, norm_out's halves swapped, the rest renamed.
TensorMap flux2_to_diffusers(const TensorMap& reference);

// The in.* tensors of a DiT golden file as model inputs (img, img_ids, txt,
// txt_ids, and y, timesteps, guidance, img_cond_seq(_ids) when present).
DitInputs golden_dit_inputs(const SafetensorsFile& golden);

// The reference tensors folder (../shared/golden beside the project, or
// $UNTWIST_GOLDEN_DIR).
std::string golden_dir();
// The device the golden runner tests run `untwist dit` on: $UNTWIST_TEST_DEVICE
// (cuda on a GPU machine), else cpu.
std::string test_device();
// Every golden .safetensors whose metadata "kind" equals `kind`, sorted.
std::vector<std::string> golden_files_of_kind(const std::string& kind);

// ||actual - expected|| / ||expected||, in float64.
double relative_error(const at::Tensor& actual, const at::Tensor& expected);

constexpr double kForwardTolerance = 1e-4;   // single forward passes
constexpr double kSamplingTolerance = 5e-4;  // after a sampling loop

// Every out.* tensor of `golden` against the same one in `result` (a failure
// when it is missing): sampled outputs (out.denoised*) at kSamplingTolerance,
// the others at `tolerance`. -> how many were compared.
int expect_outputs_match(const SafetensorsFile& golden, const SafetensorsFile& result,
                         double tolerance = kForwardTolerance);

// The tiny FLUX.1 pipeline as component flags: the golden tiny transformer and
// autoencoder, random T5 (width 48, 2 layers) and CLIP (width `clip_width`,
// 1 layer) text encoders written into `dir` (once), the real tokenizers, and
// -W 32 -H 48 --t5-max-length 16 --dtype float32.
std::vector<std::string> tiny_flux1_components(const std::string& dir, int64_t clip_width = 32);

// The last step of a pipeline's step-by-step route through the runners:
// `latent` [1, C, H, W] decoded by `untwist ae --weights ae` (its files in
// `dir`) equals the image `png` the pipeline wrote, up to the PNG's 8-bit
// rounding (gtest failures otherwise).
void expect_runner_decode_matches_png(const at::Tensor& latent, const std::string& ae, const std::string& dir,
                                      const std::string& png);

// A fresh empty folder under the system temp dir, removed at exit.
std::string scratch_dir();

struct RunResult {
  int status = -1;     // exit status, or -1 when killed by a signal
  std::string output;  // stdout and stderr together
};
// Runs the untwist binary with the given arguments (shell-quoted here).
RunResult run_untwist(const std::vector<std::string>& args);
// Runs `program` with the arguments in `working_dir` (empty: the current folder).
RunResult run_program(const std::string& program, const std::vector<std::string>& args,
                      const std::string& working_dir = "");

}  // namespace untwist::test
