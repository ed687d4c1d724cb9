// NaN watch: a checkpoint or input holding NaN/Inf stops the run with where
// the values first appeared (step, model stage, batch row) and the tensor to
// blame, and leaves no output behind.
#include <gtest/gtest.h>

#include <filesystem>

#include "io/safetensors.h"
#include "io/weights.h"
#include "model/flux1/flux.h"
#include "sample/dit_sampler.h"
#include "model/flow_schedule.h"
#include "test_support.h"
#include "util/errors.h"

namespace untwist {
namespace {

namespace fs = std::filesystem;

std::string golden_dit() { return test::golden_dir() + "/flux_dev_tiny.safetensors"; }

// A copy of the golden DiT file with one element of `name` set to `value`,
// without the tensor `drop`.
std::string poisoned_copy(const std::string& dir, const std::string& name, int64_t row, float value,
                          const std::string& drop = "") {
  const auto file = SafetensorsFile::open(golden_dit());
  NamedTensors tensors;
  for (const auto& entry : file->entries()) {
    if (entry.name == drop) continue;
    at::Tensor tensor = file->tensor(entry.name).clone();
    if (entry.name == name) tensor.view({tensor.size(0), -1})[row][0] = value;
    tensors.emplace_back(entry.name, tensor);
  }
  const std::string path = dir + "/poisoned.safetensors";
  write_safetensors(path, tensors, file->metadata());
  return path;
}

TEST(NonFinite, NanWeightIsNamedWithStepAndBlock) {
  const std::string dir = test::scratch_dir();
  // Without in.timesteps the runner only samples.
  const std::string weights =
      poisoned_copy(dir, "model.double_blocks.1.img_mlp.0.weight", 0, NAN, /*drop=*/"in.timesteps");
  const std::string output = dir + "/out.safetensors";
  const auto run = test::run_untwist({"dit", "--weights", weights, "--inputs", weights, "--output", output,
                                      "--steps", "3"});
  EXPECT_EQ(run.status, 1) << run.output;
  EXPECT_NE(run.output.find("sampling stopped: values became NaN or infinite at step 1 of 3, first in "
                            "double_blocks.1.img, batch row 0; the transformer's tensor 'double_blocks.1.img_mlp.0.weight' "
                            "holds NaN or Inf"),
            std::string::npos)
      << run.output;
  EXPECT_FALSE(fs::exists(output));
}

TEST(NonFinite, SinglePredictionIsCheckedToo) {
  const std::string dir = test::scratch_dir();
  const std::string weights = poisoned_copy(dir, "model.single_blocks.0.linear2.weight", 3, INFINITY);
  const std::string output = dir + "/out.safetensors";
  const auto run = test::run_untwist({"dit", "--weights", weights, "--inputs", weights, "--output", output});
  EXPECT_EQ(run.status, 1) << run.output;
  EXPECT_NE(run.output.find("first in single_blocks.0"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("'single_blocks.0.linear2.weight'"), std::string::npos) << run.output;
  EXPECT_FALSE(fs::exists(output));
}

TEST(NonFinite, FirstBadRowOfTheLatentIsFound) {
  const Weights weights = Weights::load(golden_dit());
  const FluxModel model(weights, detect_flux_config(weights));
  const auto file = SafetensorsFile::open(golden_dit());
  SamplingSetup setup;
  setup.noise = file->tensor("in.img").clone();  // [2, L, 16]
  setup.noise[1][5][2] = NAN;
  setup.conditioning = test::golden_dit_inputs(*file);
  setup.conditioning.img = setup.conditioning.timesteps = at::Tensor();
  setup.times = flux_schedule(4, setup.noise.size(1), /*shift=*/true);
  try {
    sample_dit(model, setup);
    FAIL() << "a NaN latent must stop sampling";
  } catch (const DataError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("step 1 of 4, first in img_in, batch row 1"), std::string::npos) << message;
    EXPECT_NE(message.find("its input latent is not finite"), std::string::npos) << message;
  }
}

TEST(NonFinite, FiniteRunsAreUntouched) {
  const std::string output = test::scratch_dir() + "/out.safetensors";
  const auto run = test::run_untwist({"dit", "--weights", golden_dit(), "--inputs", golden_dit(), "--output", output,
                                      "--steps", "2"});
  EXPECT_EQ(run.status, 0) << run.output;
  EXPECT_TRUE(fs::exists(output));
}

}  // namespace
}  // namespace untwist
