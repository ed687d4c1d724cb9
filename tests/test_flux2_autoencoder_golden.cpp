// The FLUX.2 autoencoder (2x2 patches, BatchNorm statistics) against the
// reference encode/decode, through the `untwist ae` runner, for every
// flux2-autoencoder golden file.
#include <gtest/gtest.h>


#include "io/safetensors.h"
#include "io/weights.h"
#include "model/autoencoder_config.h"
#include "test_support.h"

namespace untwist {
namespace {

TEST(Flux2AutoencoderGolden, RunnerReproducesEveryFile) {
  const auto files = test::golden_files_of_kind("flux2-autoencoder");
  ASSERT_GE(files.size(), 1u) << "expected the flux2-autoencoder golden files in " << test::golden_dir();
  for (const auto& path : files) {
    SCOPED_TRACE(path);
    const std::string output = test::scratch_dir() + "/out.safetensors";
    const auto run = test::run_untwist({"ae", "--weights", path, "--inputs", path, "--output", output});
    ASSERT_EQ(run.status, 0) << run.output;
    const auto golden = SafetensorsFile::open(path);
    const auto result = SafetensorsFile::open(output);
    EXPECT_EQ(test::expect_outputs_match(*golden, *result), 2) << "latent, image";
  }
}

TEST(Flux2AutoencoderGolden, FamilyAndConfigAreReadOffTheWeights) {
  const Weights flux2 = Weights::load(test::golden_dir() + "/ae2_tiny.safetensors");
  EXPECT_EQ(detect_autoencoder_family(flux2), AutoencoderFamily::Flux2);
  const AutoencoderConfig config = detect_autoencoder_config(flux2);
  EXPECT_EQ(config.z_channels, 4);
  EXPECT_TRUE(config.quant_conv);
  EXPECT_TRUE(config.post_quant_conv);

  const Weights flux1 = Weights::load(test::golden_dir() + "/ae_tiny.safetensors");
  EXPECT_EQ(detect_autoencoder_family(flux1), AutoencoderFamily::Flux1);
  EXPECT_FALSE(detect_autoencoder_config(flux1).quant_conv);
  EXPECT_FALSE(detect_autoencoder_config(flux1).post_quant_conv);
}

// Golden tensors under model.* (all but `drop`), plus `extra` under their own names.
std::string write_weights(const std::string& from, const std::string& drop, const NamedTensors& extra = {}) {
  const auto file = SafetensorsFile::open(from);
  NamedTensors tensors = extra;
  for (const auto& entry : file->entries()) {
    if (entry.name.rfind("model.", 0) == 0 && entry.name != drop) {
      tensors.emplace_back(entry.name, file->tensor(entry.name));
    }
  }
  const std::string path = test::scratch_dir() + "/weights.safetensors";
  write_safetensors(path, tensors);
  return path;
}

TEST(Flux2AutoencoderGolden, MissingRunningVarIsNamed) {
  const std::string golden = test::golden_dir() + "/ae2_tiny.safetensors";
  const std::string weights = write_weights(golden, "model.bn.running_var");
  const std::string output = test::scratch_dir() + "/out.safetensors";
  const auto run = test::run_untwist({"ae", "--weights", weights, "--inputs", golden, "--output", output});
  EXPECT_EQ(run.status, 1) << run.output;
  EXPECT_NE(run.output.find("bn.running_var"), std::string::npos) << run.output;
}

// diffusers' AutoencoderKLFlux2 keeps quant_conv, post_quant_conv and bn beside the coders.
TEST(Flux2AutoencoderGolden, DiffusersNamesOfTheFlux2PartsAreConverted) {
  const auto flux2 = SafetensorsFile::open(test::golden_dir() + "/ae2_tiny.safetensors");
  NamedTensors extra;
  for (const char* part : {"quant_conv.weight", "quant_conv.bias", "post_quant_conv.weight", "post_quant_conv.bias"}) {
    const std::string coder = std::string(part).rfind("post", 0) == 0 ? "model.decoder." : "model.encoder.";
    extra.emplace_back(std::string("model.") + part, flux2->tensor(coder + part));
  }
  for (const char* part : {"bn.running_mean", "bn.running_var"}) {
    extra.emplace_back(std::string("model.") + part, flux2->tensor(std::string("model.") + part));
  }
  extra.emplace_back("model.bn.num_batches_tracked", at::zeros({}, at::kLong));
  const std::string flux1 = test::golden_dir() + "/ae_tiny_diffusers.safetensors";
  const Weights weights = Weights::load(write_weights(flux1, "", extra));
  EXPECT_EQ(weights.layout(), WeightLayout::Diffusers);
  EXPECT_EQ(detect_autoencoder_family(weights), AutoencoderFamily::Flux2);
  const AutoencoderConfig config = detect_autoencoder_config(weights);
  EXPECT_TRUE(config.quant_conv);
  EXPECT_TRUE(config.post_quant_conv);
  EXPECT_TRUE(at::equal(weights.get("encoder.quant_conv.weight"), flux2->tensor("model.encoder.quant_conv.weight")));
  EXPECT_TRUE(
      at::equal(weights.get("decoder.post_quant_conv.bias"), flux2->tensor("model.decoder.post_quant_conv.bias")));
  EXPECT_TRUE(at::equal(weights.get("bn.running_var"), flux2->tensor("model.bn.running_var")));
}

}  // namespace
}  // namespace untwist
