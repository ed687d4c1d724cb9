// The FLUX autoencoder against the reference encode/decode, through the
// `untwist ae` runner, for every flux-autoencoder golden file (both layouts).
#include <gtest/gtest.h>

#include "io/safetensors.h"
#include "io/weights.h"
#include "model/autoencoder.h"
#include "test_support.h"

namespace untwist {
namespace {

TEST(AutoencoderGolden, RunnerReproducesEveryFile) {
  const auto files = test::golden_files_of_kind("flux-autoencoder");
  ASSERT_GE(files.size(), 2u) << "expected the flux-autoencoder golden files in " << test::golden_dir();
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

TEST(AutoencoderGolden, ConfigIsReadOffTheWeights) {
  const Weights weights = Weights::load(test::golden_dir() + "/ae_tiny_diffusers.safetensors");
  const AutoencoderConfig config = detect_autoencoder_config(weights);
  EXPECT_EQ(config.ch, 32);
  EXPECT_EQ(config.ch_mult, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(config.num_res_blocks, 1);
  EXPECT_EQ(config.z_channels, 4);
  EXPECT_DOUBLE_EQ(config.scale_factor, 0.3611);
  EXPECT_DOUBLE_EQ(config.shift_factor, 0.1159);
}

}  // namespace
}  // namespace untwist
