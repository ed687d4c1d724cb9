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

// The numbered reference inputs (in.ref_latent_0 with its in.ref_img_ids_0)
// and --ref-weights 1 are the one image reference of the golden file. Given
// as a reference on a grid of its own (positions other than row 0's) with its
// tokens in another order, it is sampled apart from the targets, and since
// attention does not see the order of keys, the targets are still the golden
// file's.
TEST(ShareGolden, NumberedReferenceLatentsMatchTheSingleOne) {
  const std::string path = test::golden_dir() + "/share_image_ref_both_blocks.safetensors";
  const auto golden = SafetensorsFile::open(path);
  const auto& meta = golden->metadata();
  const auto share = nlohmann::json::parse(meta.at("share"));
  const std::string dir = test::scratch_dir();
  const auto numbered = [&](const at::Tensor& order, bool with_noise = true) {
    NamedTensors tensors;
    for (const auto& entry : golden->entries()) {
      if (entry.name.rfind("in.", 0) != 0) continue;
      if (entry.name == "in.ref_latent") {
        tensors.emplace_back("in.ref_latent_0", golden->tensor(entry.name).index_select(0, order));
      } else {
        tensors.emplace_back(entry.name, golden->tensor(entry.name));
      }
    }
    tensors.emplace_back("in.ref_img_ids_0", golden->tensor("in.img_ids")[0].index_select(0, order));
    if (with_noise) tensors.emplace_back("in.ref_noise_0", golden->tensor("in.img")[0].index_select(0, order));
    const std::string inputs = dir + "/numbered.safetensors";
    write_safetensors(inputs, tensors);
    std::vector<std::string> args = {
        "dit", "--weights", path, "--inputs", inputs, "--output", dir + "/out.safetensors", "--steps",
        meta.at("steps"), "--guidance", meta.at("guidance"), "--share", "untwisted", "--blocks", "all", "--s-hf",
        knob(share.at("s_hf")), "--s-lf", knob(share.at("s_lf")), "--axis0", share.at("axis0").get<std::string>(),
        "--ref-weights", "1", "--dtype", "float32"};
    std::ostringstream beta;
    beta << share.at("beta").get<double>();
    args.insert(args.end(), {"--beta", beta.str()});
    if (meta.count("shift")) args.push_back(meta.at("shift") == "True" ? "--shift" : "--no-shift");
    return test::run_untwist(args);
  };
  std::string blocks;
  for (const auto& kind : share.at("blocks")) blocks += (blocks.empty() ? "" : ",") + kind.get<std::string>();
  ASSERT_EQ(blocks, "double,single") << "the test shares every block";
  const int64_t tokens = golden->tensor("in.img_ids").size(1);
  const auto run = numbered(at::arange(tokens));
  ASSERT_EQ(run.status, 0) << run.output;
  const auto result = SafetensorsFile::open(dir + "/out.safetensors");
  const at::Tensor expected = golden->tensor("out.denoised_untwisted");
  EXPECT_LE(test::relative_error(result->tensor("out.denoised"), expected), test::kSamplingTolerance);

  const at::Tensor reversed = at::arange(tokens - 1, -1, -1);
  const auto apart = numbered(reversed);
  ASSERT_EQ(apart.status, 0) << apart.output;
  const at::Tensor denoised = SafetensorsFile::open(dir + "/out.safetensors")->tensor("out.denoised");
  const int64_t targets = expected.size(0) - 1;
  EXPECT_LE(test::relative_error(denoised.narrow(0, 1, targets), expected.narrow(0, 1, targets)),
            test::kSamplingTolerance);
  EXPECT_EQ(denoised[0].abs().max().item<double>(), 0.0) << "the reference's place in the batch comes back zero";

  const auto without_noise = numbered(reversed, false);
  EXPECT_EQ(without_noise.status, 1) << without_noise.output;
  EXPECT_NE(without_noise.output.find("in.ref_noise_0"), std::string::npos) << without_noise.output;
}

}  // namespace
}  // namespace untwist
