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
// and --ref-weights 1 are the one image reference of the golden file; a
// reference on another grid is refused, not silently cropped.
TEST(ShareGolden, NumberedReferenceLatentsMatchTheSingleOne) {
  const std::string path = test::golden_dir() + "/share_image_ref_both_blocks.safetensors";
  const auto golden = SafetensorsFile::open(path);
  const auto& meta = golden->metadata();
  const auto share = nlohmann::json::parse(meta.at("share"));
  const std::string dir = test::scratch_dir();
  const auto numbered = [&](const at::Tensor& ids) {
    NamedTensors tensors;
    for (const auto& entry : golden->entries()) {
      if (entry.name.rfind("in.", 0) != 0) continue;
      tensors.emplace_back(entry.name == "in.ref_latent" ? "in.ref_latent_0" : entry.name, golden->tensor(entry.name));
    }
    tensors.emplace_back("in.ref_img_ids_0", ids);
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
  const at::Tensor ids = golden->tensor("in.img_ids")[0];
  const auto run = numbered(ids);
  ASSERT_EQ(run.status, 0) << run.output;
  const auto result = SafetensorsFile::open(dir + "/out.safetensors");
  EXPECT_LE(test::relative_error(result->tensor("out.denoised"), golden->tensor("out.denoised_untwisted")),
            test::kSamplingTolerance);

  const auto moved = numbered(ids + 1);
  EXPECT_EQ(moved.status, 1) << moved.output;
  EXPECT_NE(moved.output.find("not supported yet"), std::string::npos) << moved.output;
}

}  // namespace
}  // namespace untwist
