// Checkpoint naming: prefixes, the diffusers layout, config detection and the
// errors for missing or misshapen tensors.
#include <gtest/gtest.h>

#include "io/safetensors.h"
#include "io/weights.h"
#include "model/flux1/flux.h"
#include "model/flux1/flux_config.h"
#include "test_support.h"
#include "util/errors.h"

namespace untwist {
namespace {

std::string golden(const std::string& name) { return test::golden_dir() + "/" + name + ".safetensors"; }

void expect_same_tensors(const Weights& a, const Weights& b) {
  ASSERT_EQ(a.tensors().size(), b.tensors().size());
  for (const auto& [name, tensor] : a.tensors()) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(b.has(name));
    EXPECT_TRUE(at::equal(tensor, b.get(name)));
  }
}

TEST(Weights, DiffusersTransformerConvertsToTheReferenceLayout) {
  const Weights reference = Weights::load(golden("flux_dev_tiny"));
  const Weights diffusers = Weights::load(golden("flux_dev_tiny_diffusers"));
  EXPECT_EQ(reference.layout(), WeightLayout::Reference);
  EXPECT_EQ(diffusers.layout(), WeightLayout::Diffusers);
  expect_same_tensors(reference, diffusers);
}

TEST(Weights, DiffusersAutoencoderConvertsToTheReferenceLayout) {
  expect_same_tensors(Weights::load(golden("ae_tiny")), Weights::load(golden("ae_tiny_diffusers")));
}

TEST(Weights, ComfyUiPrefixIsStripped) {
  const Weights reference = Weights::load(golden("flux_schnell_tiny"));
  NamedTensors prefixed;
  for (const auto& [name, tensor] : reference.tensors()) prefixed.emplace_back("model.diffusion_model." + name, tensor);
  prefixed.emplace_back("first_stage_model.encoder.conv_in.weight", at::zeros({1}));
  const std::string path = test::scratch_dir() + "/comfy.safetensors";
  write_safetensors(path, prefixed);
  expect_same_tensors(reference, Weights::load(path));
}

TEST(FluxConfig, ReadOffTheWeightsAndTheParamsMetadata) {
  const FluxConfig dev = detect_flux_config(Weights::load(golden("flux_dev_tiny")));
  EXPECT_EQ(dev.hidden_size, 128);
  EXPECT_EQ(dev.num_heads, 4);
  EXPECT_EQ(dev.depth, 2);
  EXPECT_EQ(dev.depth_single_blocks, 2);
  EXPECT_EQ(dev.in_channels, 16);
  EXPECT_EQ(dev.vec_in_dim, 32);
  EXPECT_EQ(dev.context_in_dim, 48);
  EXPECT_EQ(dev.mlp_hidden, 512);
  EXPECT_TRUE(dev.guidance_embed);
  EXPECT_TRUE(dev.qkv_bias);
  EXPECT_EQ(dev.axes_dim, (std::vector<int64_t>{8, 12, 12}));

  const FluxConfig schnell = detect_flux_config(Weights::load(golden("flux_schnell_tiny")));
  EXPECT_EQ(schnell.num_heads, 2);
  EXPECT_EQ(schnell.depth, 1);
  EXPECT_EQ(schnell.depth_single_blocks, 3);
  EXPECT_FALSE(schnell.guidance_embed);
  EXPECT_EQ(schnell.axes_dim, (std::vector<int64_t>{8, 20, 20}));
}

TEST(FluxConfig, WithoutParamsAHeadDimOf128MeansFlux1Axes) {
  TensorMap tensors = Weights::load(golden("flux_schnell_tiny")).tensors();
  // Widen nothing; only relabel the qk-norm length as 128 to test the fallback rule.
  Weights weights = Weights::from_tensors(tensors, "no-params");
  try {
    detect_flux_config(weights);
    FAIL() << "head dim 48 without params must ask for --axes-dim";
  } catch (const DataError& error) {
    EXPECT_NE(std::string(error.what()).find("--axes-dim"), std::string::npos) << error.what();
  }
  RopeOverride rope;
  rope.axes_dim = std::vector<int64_t>{8, 20, 20};
  EXPECT_EQ(detect_flux_config(weights, rope).axes_dim, *rope.axes_dim);
  rope.axes_dim = std::vector<int64_t>{16, 16, 16};
  EXPECT_EQ(detect_flux_config(weights, rope).axes_dim, *rope.axes_dim);
  rope.axes_dim = std::vector<int64_t>{16, 16};
  EXPECT_THROW(detect_flux_config(weights, rope), DataError);

  // A 128-wide head (FLUX.1's) without params takes [16, 56, 56].
  TensorMap wide;
  wide["img_in.weight"] = at::zeros({256, 64});
  wide["final_layer.linear.weight"] = at::zeros({64, 256});
  wide["vector_in.in_layer.weight"] = at::zeros({256, 768});
  wide["txt_in.weight"] = at::zeros({256, 4096});
  wide["single_blocks.0.norm.query_norm.scale"] = at::zeros({128});
  wide["single_blocks.0.linear1.weight"] = at::zeros({3 * 256 + 1024, 256});
  const FluxConfig flux1 = detect_flux_config(Weights::from_tensors(wide, "wide"));
  EXPECT_EQ(flux1.axes_dim, (std::vector<int64_t>{16, 56, 56}));
  EXPECT_EQ(flux1.num_heads, 2);
  EXPECT_EQ(flux1.mlp_hidden, 1024);
}

TEST(FluxModel, MissingAndMisshapenTensorsAreNamed) {
  TensorMap tensors = Weights::load(golden("flux_dev_tiny")).tensors();
  const FluxConfig config = detect_flux_config(Weights::load(golden("flux_dev_tiny")));
  TensorMap missing = tensors;
  missing.erase("single_blocks.1.linear2.weight");
  try {
    FluxModel(Weights::from_tensors(missing, "ckpt"), config);
    FAIL() << "no error";
  } catch (const DataError& error) {
    EXPECT_EQ(std::string(error.what()), "ckpt: missing tensor 'single_blocks.1.linear2.weight'");
  }
  TensorMap misshapen = tensors;
  misshapen["double_blocks.0.img_attn.proj.weight"] = at::zeros({128, 64});
  try {
    FluxModel(Weights::from_tensors(misshapen, "ckpt"), config);
    FAIL() << "no error";
  } catch (const DataError& error) {
    EXPECT_EQ(std::string(error.what()),
              "ckpt: tensor 'double_blocks.0.img_attn.proj.weight' has shape [128, 64], expected [128, 128]");
  }
}

}  // namespace
}  // namespace untwist
