// Style-aligned sampling against the independent implementation of METHOD.md:
// every flux-style-aligned (FLUX.1) and flux2-style-aligned (FLUX.2) golden
// file, modes none, full and untwisted, through `untwist dit --share`.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "io/safetensors.h"
#include "test_support.h"

namespace untwist {
namespace {

std::string knob(const nlohmann::json& pair) {
  std::ostringstream out;
  out << pair.at(0).get<double>() << ":" << pair.at(1).get<double>();
  return out.str();
}

void reproduce_every_mode_of(const std::string& kind, size_t at_least) {
  const auto files = test::golden_files_of_kind(kind);
  ASSERT_GE(files.size(), at_least) << "expected the " << kind << " golden files in " << test::golden_dir();
  for (const auto& path : files) {
    const auto golden = SafetensorsFile::open(path);
    const auto& meta = golden->metadata();
    const auto share = nlohmann::json::parse(meta.at("share"));
    std::string blocks;
    for (const auto& kind : share.at("blocks")) blocks += (blocks.empty() ? "" : ",") + kind.get<std::string>();
    std::ostringstream beta;
    beta << share.at("beta").get<double>();

    for (const std::string mode : {"none", "full", "untwisted"}) {
      SCOPED_TRACE(path + " mode " + mode);
      const std::string output = test::scratch_dir() + "/out.safetensors";
      std::vector<std::string> args = {
          "dit", "--weights", path, "--inputs", path, "--output", output, "--steps", meta.at("steps"),
          "--guidance", meta.at("guidance"), "--share", mode, "--blocks", blocks, "--s-hf", knob(share.at("s_hf")),
          "--s-lf", knob(share.at("s_lf")), "--beta", beta.str(), "--axis0", share.at("axis0").get<std::string>(),
          "--device", test::test_device(), "--dtype", "float32"};
      if (meta.count("shift")) args.push_back(meta.at("shift") == "True" ? "--shift" : "--no-shift");
      const auto run = test::run_untwist(args);
      ASSERT_EQ(run.status, 0) << run.output;
      const auto result = SafetensorsFile::open(output);
      const at::Tensor expected = golden->tensor("out.denoised_" + mode);
      const at::Tensor actual = result->tensor("out.denoised");
      EXPECT_LE(test::relative_error(actual, expected), test::kSamplingTolerance);
      if (golden->contains("in.ref_latent")) {
        EXPECT_TRUE(at::equal(actual[0], golden->tensor("in.ref_latent"))) << "row 0 is the reference image";
      }
      EXPECT_LE(test::relative_error(result->tensor("out.schedule"), golden->tensor("out.schedule")), 1e-6);
    }
  }
}

TEST(ShareGolden, RunnerReproducesEveryModeOfEveryFluxFile) { reproduce_every_mode_of("flux-style-aligned", 2); }

TEST(ShareGolden, RunnerReproducesEveryModeOfEveryFlux2File) { reproduce_every_mode_of("flux2-style-aligned", 2); }

}  // namespace
}  // namespace untwist
