// The command line as a user meets it: exit statuses, one-line errors, and no
// output file left behind by a failed run.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>

#include <ATen/Context.h>

#include "io/atomic_file.h"
#include "io/safetensors.h"
#include "test_support.h"

namespace untwist {
namespace {

namespace fs = std::filesystem;

std::string golden(const std::string& name) { return test::golden_dir() + "/" + name + ".safetensors"; }

int line_count(const std::string& text) {
  return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}

TEST(Cli, TruncatedCheckpointIsOneLineExitOneAndNoOutput) {
  const std::string dir = test::scratch_dir();
  const std::string truncated = dir + "/truncated.safetensors";
  fs::copy_file(golden("flux_dev_tiny"), truncated);
  fs::resize_file(truncated, fs::file_size(truncated) / 2);
  const std::string output = dir + "/out.safetensors";
  const auto run = test::run_untwist({"dit", "--weights", truncated, "--inputs", golden("flux_dev_tiny"),
                                      "--output", output});
  EXPECT_EQ(run.status, 1) << run.output;
  EXPECT_EQ(line_count(run.output), 1) << run.output;
  EXPECT_NE(run.output.find(truncated), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("truncated or corrupt"), std::string::npos) << run.output;
  EXPECT_FALSE(fs::exists(output));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1) << "no temporary files left";
}

TEST(Cli, WrongKindOfCheckpointIsNamed) {
  const std::string output = test::scratch_dir() + "/out.safetensors";
  const auto run = test::run_untwist({"dit", "--weights", golden("ae_tiny"), "--inputs", golden("flux_dev_tiny"),
                                      "--output", output});
  EXPECT_EQ(run.status, 1) << run.output;
  EXPECT_NE(run.output.find("not a FLUX transformer"), std::string::npos) << run.output;
  EXPECT_FALSE(fs::exists(output));
}

TEST(Cli, MissingInputTensorIsNamed) {
  const std::string output = test::scratch_dir() + "/out.safetensors";
  const auto run = test::run_untwist({"dit", "--weights", golden("flux_dev_tiny"), "--inputs",
                                      golden("ae_tiny"), "--output", output});
  EXPECT_EQ(run.status, 1) << run.output;
  EXPECT_NE(run.output.find("missing input tensor 'in.img'"), std::string::npos) << run.output;
  EXPECT_FALSE(fs::exists(output));
}

TEST(Cli, InputsThatDoNotFitTheModelNameTheInputsFile) {
  const std::string dir = test::scratch_dir();
  const std::string dit_inputs = dir + "/dit_in.safetensors";
  write_safetensors(dit_inputs, {{"in.img", at::zeros({1, 4, 7})}, {"in.img_ids", at::zeros({1, 4, 3})},
                                 {"in.txt", at::zeros({1, 2, 48})}, {"in.txt_ids", at::zeros({1, 2, 3})},
                                 {"in.y", at::zeros({1, 32})}, {"in.timesteps", at::zeros({1})}});
  const std::string t5_inputs = dir + "/t5_in.safetensors";
  write_safetensors(t5_inputs, {{"in.input_ids", at::tensor(std::vector<int64_t>{1, 2, 99999}).reshape({1, 3})}});
  const std::string output = dir + "/out.safetensors";
  auto run = test::run_untwist({"dit", "--weights", golden("flux_dev_tiny"), "--inputs", dit_inputs, "--output",
                                output});
  EXPECT_EQ(run.status, 1) << run.output;
  EXPECT_NE(run.output.find(dit_inputs + ": does not fit the model: input 'img' has shape [1, 4, 7], expected"),
            std::string::npos)
      << run.output;
  run = test::run_untwist({"te", "--kind", "t5", "--weights", golden("t5_encoder_tiny"), "--inputs", t5_inputs,
                           "--output", output});
  EXPECT_EQ(run.status, 1) << run.output;
  EXPECT_NE(run.output.find(t5_inputs + ": does not fit the model: T5 input_ids outside the vocabulary of 300"),
            std::string::npos)
      << run.output;
  EXPECT_FALSE(fs::exists(output));
}

TEST(Cli, InterruptedWriteLeavesNoTemporaryFile) {
  const std::string dir = test::scratch_dir();
  EXPECT_EXIT(
      {
        remove_temporary_files_on_interrupt();
        AtomicFile file(dir + "/image.png");
        file.write("partial", 7);
        std::raise(SIGTERM);
      },
      ::testing::KilledBySignal(SIGTERM), "");
  EXPECT_TRUE(fs::is_empty(dir)) << fs::directory_iterator(dir)->path();
}

TEST(Cli, BadValuesAreUsageErrors) {
  const std::string output = test::scratch_dir() + "/out.safetensors";
  const std::vector<std::vector<std::string>> calls = {
      {"dit", "--weights", golden("flux_dev_tiny"), "--inputs", golden("flux_dev_tiny"), "--output", output,
       "--steps", "0"},
      {"dit", "--weights", golden("flux_dev_tiny"), "--inputs", golden("flux_dev_tiny"), "--output", output,
       "--steps", "abc"},
      {"dit", "--weights", golden("flux_dev_tiny"), "--inputs", golden("flux_dev_tiny"), "--output", output,
       "--axes-dim", "8,x,12"},
      {"dit", "--weights", golden("flux_dev_tiny"), "--inputs", golden("flux_dev_tiny"), "--output", output,
       "--dtype", "int4"},
      {"dit", "--weights", "/nonexistent.safetensors", "--inputs", golden("flux_dev_tiny"), "--output", output},
      {"dit", "--weights", golden("flux_dev_tiny"), "--inputs", golden("flux_dev_tiny"), "--output", output,
       "--share", "untwisted", "--s-hf", "1:abc"},
      {"dit", "--weights", golden("flux_dev_tiny"), "--inputs", golden("flux_dev_tiny"), "--output", output,
       "--share", "untwisted", "--beta", "nan"},
      {"dit", "--weights", golden("flux_dev_tiny"), "--inputs", golden("flux_dev_tiny"), "--output", output,
       "--device", "tpu"},
      {"dit", "--weights", golden("flux_dev_tiny"), "--inputs", golden("flux_dev_tiny"), "--output", output,
       "--device", "cuda:x"},
      {"style", "-p", "a", "--ref-prompt", "b", "--mode", "bogus", "-o", output},
      {"style", "-p", "a", "--ref-prompt", "b", "--s-lf", "-1", "-o", output},
      {"style", "-p", "a", "--ref-prompt", "b", "--window", "0.8:0.2", "-o", output},
      {"style", "-p", "a", "--ref-prompt", "b", "--blocks", "single:3-1", "-o", output},
      {"style", "-p", "a", "--ref-prompt", "b", "--guidance", "inf", "-o", output},
      {"generate", "-p", "a", "-W", "15", "-o", output},
      {"generate", "-p", "a", "--steps", "0", "-o", output},
      {"analyze", "rope", "--axes-dim", "3,4", "-o", output},
      {"toy", "train", "--lr", "-1", "-o", output},
      {"frobnicate"},
      {},
  };
  for (const auto& args : calls) {
    const auto run = test::run_untwist(args);
    EXPECT_EQ(run.status, 2) << run.output;
    EXPECT_EQ(run.output.rfind("error: ", 0), 0u) << run.output;
    EXPECT_NE(run.output.find("\nusage: untwist"), std::string::npos) << run.output;
    EXPECT_EQ(line_count(run.output), 2) << run.output;
    EXPECT_FALSE(fs::exists(output));
  }
}

TEST(Cli, CudaOnALibtorchWithoutItSaysHowToBuildForIt) {
  if (at::hasCUDA()) GTEST_SKIP() << "this libtorch has CUDA";
  const std::string output = test::scratch_dir() + "/out.safetensors";
  const auto run = test::run_untwist({"dit", "--weights", golden("flux_dev_tiny"), "--inputs", golden("flux_dev_tiny"),
                                      "--output", output, "--device", "cuda"});
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_NE(run.output.find("CMAKE_PREFIX_PATH"), std::string::npos) << run.output;
  EXPECT_FALSE(fs::exists(output));
}

TEST(Cli, NeverOverwritesAnInput) {
  const std::string dir = test::scratch_dir();
  const std::string inputs = dir + "/inputs.safetensors";
  fs::copy_file(golden("ae_tiny"), inputs);
  const auto size = fs::file_size(inputs);
  const auto run = test::run_untwist({"ae", "--weights", golden("ae_tiny"), "--inputs", inputs, "--output", inputs});
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_EQ(fs::file_size(inputs), size);
}

}  // namespace
}  // namespace untwist
