// The Z-Image DiT against Tongyi-MAI/Z-Image's reference code through
// `untwist dit`: the forward pass on rows of different caption lengths
// (out.pred, in the reference's model time and sign), the reference
// scheduler's sigmas and its generate() loop with and without
// classifier-free guidance (out.denoised).
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "io/safetensors.h"
#include "io/weights.h"
#include "model/families.h"
#include "model/zimage/zimage.h"
#include "model/zimage/zimage_latents.h"
#include "test_support.h"
#include "util/errors.h"

namespace untwist {
namespace {

using test::relative_error;

// A metadata number as the command line takes it (JSON false/true: 0/1).
std::string number(const nlohmann::json& value) {
  std::ostringstream out;
  out << (value.is_boolean() ? (value.get<bool>() ? 1.0 : 0.0) : value.get<double>());
  return out.str();
}

// The file's classifier-free guidance knobs as flags, where it states them.
std::vector<std::string> guidance_knobs(const std::map<std::string, std::string>& meta) {
  std::vector<std::string> flags;
  for (const auto& [key, flag] : {std::pair{"cfg_truncation", "--cfg-truncation"}, {"cfg_normalization", "--cfg-normalization"}}) {
    if (!meta.count(key)) continue;
    flags.push_back(flag);
    flags.push_back(number(nlohmann::json::parse(meta.at(key))));
  }
  return flags;
}

TEST(ZImageGolden, RunnerReproducesEveryFile) {
  const auto files = test::golden_files_of_kind("zimage-dit");
  ASSERT_GE(files.size(), 2u) << "expected the zimage-dit golden files in " << test::golden_dir();
  for (const auto& path : files) {
    SCOPED_TRACE(path);
    const auto golden = SafetensorsFile::open(path);
    const auto& meta = golden->metadata();
    std::vector<std::string> args = {"dit", "--weights", path, "--inputs", path, "--output",
                                     test::scratch_dir() + "/out.safetensors", "--steps", meta.at("steps"),
                                     "--guidance", meta.at("guidance"), "--device", test::test_device(),
                                     "--dtype", "float32", "--pred"};
    for (const std::string& flag : guidance_knobs(meta)) args.push_back(flag);
    const auto run = test::run_untwist(args);
    ASSERT_EQ(run.status, 0) << run.output;
    const auto result = SafetensorsFile::open(args[6]);
    int compared = 0;
    for (const auto& entry : golden->entries()) {
      if (entry.name.rfind("out.", 0) != 0) continue;
      SCOPED_TRACE(entry.name);
      const std::string ours = entry.name == "out.sigmas" ? "out.schedule" : entry.name;
      ASSERT_TRUE(result->contains(ours));
      EXPECT_LE(relative_error(result->tensor(ours), golden->tensor(entry.name)),
                entry.name == "out.denoised" ? test::kSamplingTolerance : test::kForwardTolerance);
      ++compared;
    }
    EXPECT_EQ(compared, 3) << "pred, sigmas, denoised";
  }
}

std::string knob(const nlohmann::json& pair) {
  std::ostringstream out;
  out << pair.at(0).get<double>() << ":" << pair.at(1).get<double>();
  return out.str();
}

// Style-aligned sampling (METHOD section 9) against the independent oracle:
// every zimage-style-aligned file, modes none, full and untwisted, row 0 the
// reference; with guidance each half of the doubled batch shares with its own
// first row.
TEST(ZImageGolden, RunnerReproducesEveryModeOfEveryShareFile) {
  const auto files = test::golden_files_of_kind("zimage-style-aligned");
  ASSERT_GE(files.size(), 2u) << "expected the zimage-style-aligned golden files in " << test::golden_dir();
  for (const auto& path : files) {
    const auto golden = SafetensorsFile::open(path);
    const auto& meta = golden->metadata();
    const auto share = nlohmann::json::parse(meta.at("share"));
    std::string blocks;
    for (const auto& group : share.at("blocks")) blocks += (blocks.empty() ? "" : ",") + group.get<std::string>();
    for (const std::string mode : {"none", "full", "untwisted"}) {
      SCOPED_TRACE(path + " mode " + mode);
      const std::string output = test::scratch_dir() + "/out.safetensors";
      std::vector<std::string> args = {
          "dit", "--weights", path, "--inputs", path, "--output", output, "--steps", meta.at("steps"), "--guidance",
          meta.at("guidance"), "--share", mode, "--blocks", blocks, "--s-hf", knob(share.at("s_hf")), "--s-lf",
          knob(share.at("s_lf")), "--beta", number(share.at("beta")), "--axis0", share.at("axis0").get<std::string>(),
          "--device", test::test_device(), "--dtype", "float32"};
      for (const std::string& flag : guidance_knobs(meta)) args.push_back(flag);
      const auto run = test::run_untwist(args);
      ASSERT_EQ(run.status, 0) << run.output;
      EXPECT_LE(relative_error(SafetensorsFile::open(output)->tensor("out.denoised"),
                               golden->tensor("out.denoised_" + mode)),
                test::kSamplingTolerance);
    }
  }
}

// The latents form takes image references too (in.ref_latent_K as latents
// [C, H, W]): unshared, row 0 ends as its latent and the other row is the
// golden file's; shared, that row feels it; on a grid of its own (a wider
// latent with its ids and noise) it still runs.
TEST(ZImageGolden, RunnerTakesImageReferencesInTheLatentsForm) {
  const std::string path = test::golden_dir() + "/zimage_turbo_tiny.safetensors";
  const auto golden = SafetensorsFile::open(path);
  const std::string dir = test::scratch_dir();
  const at::Tensor reference = golden->tensor("in.latents")[1].flip(-1);  // [4, 8, 12], not row 0's own
  const auto run = [&](const std::string& mode, NamedTensors extra) {
    NamedTensors tensors;
    for (const auto& entry : golden->entries()) {
      if (entry.name.rfind("in.", 0) == 0 && entry.name != "in.timesteps") {
        tensors.emplace_back(entry.name, golden->tensor(entry.name));
      }
    }
    tensors.insert(tensors.end(), extra.begin(), extra.end());
    write_safetensors(dir + "/in.safetensors", tensors);
    const auto result = test::run_untwist({"dit", "--weights", path, "--inputs", dir + "/in.safetensors", "--output",
                                           dir + "/out.safetensors", "--steps", golden->metadata().at("steps"),
                                           "--share", mode, "--blocks", "all", "--dtype", "float32"});
    EXPECT_EQ(result.status, 0) << result.output;
    return SafetensorsFile::open(dir + "/out.safetensors")->tensor("out.denoised");
  };
  const at::Tensor unshared = run("none", {{"in.ref_latent_0", reference}});
  EXPECT_LE(relative_error(unshared[0], reference), 1e-6);
  EXPECT_LE(relative_error(unshared[1], golden->tensor("out.denoised")[1]), test::kSamplingTolerance);
  const at::Tensor shared = run("full", {{"in.ref_latent_0", reference}});
  EXPECT_GT(relative_error(shared[1], unshared[1]), 1e-3);

  const at::Tensor wide = at::randn({4, 8, 20});  // 4 x 10 tokens beside the 4 x 6 targets
  const at::Tensor ids = at::stack({at::zeros({40}), at::arange(4).repeat_interleave(10).to(at::kFloat),
                                    at::arange(10).repeat(4).to(at::kFloat) - 2}, 1);
  const at::Tensor apart = run("full", {{"in.ref_latent_0", wide}, {"in.ref_noise_0", at::randn({4, 8, 20})},
                                        {"in.ref_img_ids_0", ids}});
  EXPECT_EQ(apart[0].abs().max().item<double>(), 0.0) << "its place in the batch comes back zero";
  EXPECT_TRUE(at::isfinite(apart).all().item<bool>());
  EXPECT_GT(relative_error(apart[1], unshared[1]), 1e-3);
}

TEST(ZImageGolden, ConfigComesFromTheWeightsAndTheirParams) {
  const Weights weights = Weights::load(test::golden_dir() + "/zimage_turbo_tiny.safetensors");
  const auto model = load_dit(weights);
  EXPECT_EQ(model->family(), "zimage");
  EXPECT_TRUE(model->classifier_free_guidance());
  EXPECT_FALSE(model->guidance_embedded());
  const ZImageConfig config = detect_zimage_config(weights, weights.metadata_config());
  EXPECT_EQ(config.dim, 64);
  EXPECT_EQ(config.num_heads, 4);
  EXPECT_EQ(config.n_layers, 2);
  EXPECT_EQ(config.n_noise_refiner, 1);
  EXPECT_EQ(config.n_context_refiner, 1);
  EXPECT_EQ(config.cap_feat_dim, 24);
  EXPECT_EQ(config.in_channels, 4);
  EXPECT_EQ(config.token_channels(), 16);
  EXPECT_EQ(config.axes_dims, (std::vector<int64_t>{4, 6, 6}));
  EXPECT_EQ(config.theta, 256);
  const std::vector<BlockGroup> groups = model->block_groups();
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].name, "refiner");
  EXPECT_EQ(groups[1].name, "layers");
  // Without the file's params a head dim other than 128 needs --axes-dim.
  EXPECT_THROW(detect_zimage_config(weights, nlohmann::json::object()), DataError);
}

// Captions padded with their learned pad token take part in attention: only
// the padding of a row to the batch's longest is masked, so a row's
// prediction does not depend on the other rows of its batch.
TEST(ZImageGolden, ARowsPredictionDoesNotDependOnItsBatch) {
  const std::string path = test::golden_dir() + "/zimage_turbo_tiny.safetensors";
  const auto golden = SafetensorsFile::open(path);
  const auto model = load_dit(Weights::load(path));
  const at::Tensor short_caption = golden->tensor("in.cap_feats_0"), long_caption = golden->tensor("in.cap_feats_1");
  DitInputs batch;
  batch.img = zimage_patchify(golden->tensor("in.latents"), 2);  // [2, 24, 16]
  batch.img_ids = model->image_ids(2, 4, 6);
  batch.txt = at::stack({at::constant_pad_nd(short_caption, {0, 0, 0, long_caption.size(0) - short_caption.size(0)}),
                         long_caption});  // [2, 40, 24]
  batch.txt_mask = at::arange(long_caption.size(0)).unsqueeze(0) <
                   at::tensor({short_caption.size(0), long_caption.size(0)}).unsqueeze(1);
  batch.timesteps = 1.0 - golden->tensor("in.timesteps");
  DitInputs alone;
  alone.img = batch.img.narrow(0, 0, 1);
  alone.img_ids = batch.img_ids.narrow(0, 0, 1);
  alone.txt = short_caption.unsqueeze(0);
  alone.timesteps = batch.timesteps.narrow(0, 0, 1);
  const at::Tensor both = model->forward(batch, model->position_table(batch));
  const at::Tensor first = model->forward(alone, model->position_table(alone));
  EXPECT_EQ(first.sizes(), (std::vector<int64_t>{1, 24, 16}));
  EXPECT_LE(relative_error(both.narrow(0, 0, 1), first), 1e-6);
  const at::Tensor pred = zimage_unpatchify(-both, 4, 6, 2);
  EXPECT_LE(relative_error(pred, golden->tensor("out.pred")), test::kForwardTolerance);
}

TEST(ZImageGolden, PatchifyOrdersChannelsAsTheReference) {
  const at::Tensor latent = at::arange(2 * 4 * 6, at::kFloat).reshape({1, 2, 4, 6});
  const at::Tensor tokens = zimage_patchify(latent, 2);  // [1, 6, 8]
  // Token (0, 0): (pH, pW, C) over the 2x2 patch at the origin.
  EXPECT_TRUE(at::equal(tokens[0][0], at::tensor({0.f, 24.f, 1.f, 25.f, 6.f, 30.f, 7.f, 31.f})));
  EXPECT_TRUE(at::equal(zimage_unpatchify(tokens, 2, 3, 2), latent));
}

}  // namespace
}  // namespace untwist
