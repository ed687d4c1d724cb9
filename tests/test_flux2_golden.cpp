// The FLUX.2 DiT (dev and klein), its RoPE table over (t, h, w, l), its
// schedule with the empirical mu and its sampler with in-context reference
// tokens, against the reference code's outputs through `untwist dit`.
#include <gtest/gtest.h>

#include "io/safetensors.h"
#include "io/weights.h"
#include "model/flux2/flux2.h"
#include "model/families.h"
#include "test_support.h"
#include "util/errors.h"

namespace untwist {
namespace {

using test::relative_error;

TEST(Flux2Golden, RunnerReproducesEveryFile) {
  const auto files = test::golden_files_of_kind("flux2-dit");
  ASSERT_GE(files.size(), 2u) << "expected the flux2-dit golden files in " << test::golden_dir();
  for (const auto& path : files) {
    SCOPED_TRACE(path);
    const auto golden = SafetensorsFile::open(path);
    const std::string output = test::scratch_dir() + "/out.safetensors";
    const auto run = test::run_untwist({"dit", "--weights", path, "--inputs", path, "--output", output, "--steps",
                                        golden->metadata().at("steps"), "--guidance",
                                        golden->metadata().at("guidance"), "--device", test::test_device(),
                                        "--dtype", "float32", "--pred"});
    ASSERT_EQ(run.status, 0) << run.output;
    const auto result = SafetensorsFile::open(output);
    EXPECT_EQ(test::expect_outputs_match(*golden, *result), 4) << "pe, pred, schedule, denoised";
  }
}

TEST(Flux2Golden, VariantAndShapesComeFromTheWeights) {
  const Weights dev = Weights::load(test::golden_dir() + "/flux2_dev_tiny.safetensors");
  const auto dev_model = load_dit(dev);
  EXPECT_EQ(dev_model->family(), "flux2");
  EXPECT_EQ(dev_model->variant(), "dev");
  EXPECT_TRUE(dev_model->guidance_embedded());
  const Weights klein = Weights::load(test::golden_dir() + "/flux2_klein_tiny.safetensors");
  const Flux2Config config = detect_flux2_config(klein);
  EXPECT_FALSE(config.guidance_embed);
  EXPECT_EQ(config.hidden_size, 96);
  EXPECT_EQ(config.num_heads, 4);
  EXPECT_EQ(config.depth, 1);
  EXPECT_EQ(config.depth_single_blocks, 3);
  EXPECT_EQ(config.mlp_hidden, 288);
  EXPECT_EQ(config.axes_dim, (std::vector<int64_t>{6, 6, 6, 6}));
  EXPECT_EQ(load_dit(klein)->variant(), "klein");
  // Without the file's params a head dim other than 128 needs --axes-dim.
  TensorMap tensors = klein.tensors();
  EXPECT_THROW(detect_flux2_config(Weights::from_tensors(tensors, "no-metadata")), DataError);
  RopeOverride rope;
  rope.axes_dim = std::vector<int64_t>{6, 6, 6, 6};
  EXPECT_EQ(detect_flux2_config(Weights::from_tensors(tensors, "no-metadata"), rope).theta, 2000);
}

// Position ids as the reference's prc_img / prc_txt build them.
TEST(Flux2Golden, PositionIdsFollowTheReference) {
  const std::string path = test::golden_dir() + "/flux2_klein_tiny.safetensors";
  const auto golden = SafetensorsFile::open(path);
  const auto model = load_dit(Weights::load(path));
  const at::Tensor img_ids = golden->tensor("in.img_ids");
  const auto [h, w] = token_grid(img_ids, model->rope());
  EXPECT_TRUE(at::equal(model->image_ids(img_ids.size(0), h, w), img_ids));
  const at::Tensor txt_ids = golden->tensor("in.txt_ids");
  EXPECT_TRUE(at::equal(model->text_ids(txt_ids.size(0), txt_ids.size(1)), txt_ids));
}

// The in-context tokens change the image's prediction (they are attended to)
// but get no prediction of their own.
TEST(Flux2Golden, InContextTokensAreAttendedButNotPredicted) {
  const std::string path = test::golden_dir() + "/flux2_dev_tiny.safetensors";
  const auto golden = SafetensorsFile::open(path);
  const auto model = load_dit(Weights::load(path));
  DitInputs with = test::golden_dit_inputs(*golden);
  with.cond = golden->tensor("in.img_cond_seq");
  with.cond_ids = golden->tensor("in.img_cond_seq_ids");
  DitInputs without = with;
  without.cond = without.cond_ids = at::Tensor();
  const at::Tensor pred = model->forward(with, model->position_table(with));
  EXPECT_EQ(pred.sizes(), with.img.sizes());
  EXPECT_GT(relative_error(pred, model->forward(without, model->position_table(without))), 1e-3);
}

}  // namespace
}  // namespace untwist
