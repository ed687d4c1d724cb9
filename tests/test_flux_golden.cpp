// The FLUX DiT, its RoPE table and its sampler against the reference outputs,
// through the `untwist dit` runner, for every flux-dit golden file (both layouts).
#include <gtest/gtest.h>

#include "io/safetensors.h"
#include "io/weights.h"
#include "model/attention.h"
#include "model/flux1/flux.h"
#include "test_support.h"

namespace untwist {
namespace {

using test::relative_error;

std::string metadata_or(const SafetensorsFile& file, const std::string& key, const std::string& fallback) {
  const auto it = file.metadata().find(key);
  return it == file.metadata().end() ? fallback : it->second;
}

TEST(FluxGolden, RunnerReproducesEveryFile) {
  const auto files = test::golden_files_of_kind("flux-dit");
  ASSERT_GE(files.size(), 3u) << "expected the flux-dit golden files in " << test::golden_dir();
  for (const auto& path : files) {
    SCOPED_TRACE(path);
    const auto golden = SafetensorsFile::open(path);
    const std::string output = test::scratch_dir() + "/out.safetensors";
    std::vector<std::string> args = {"dit", "--weights", path, "--inputs", path, "--output", output,
                                     "--steps", metadata_or(*golden, "sample_steps", "4"),
                                     "--guidance", metadata_or(*golden, "sample_guidance", "3.5")};
    args.push_back(metadata_or(*golden, "sample_shift", "True") == "True" ? "--shift" : "--no-shift");
    args.insert(args.end(), {"--device", test::test_device()});
    const auto run = test::run_untwist(args);
    ASSERT_EQ(run.status, 0) << run.output;
    const auto result = SafetensorsFile::open(output);

    int compared = 0;
    for (const auto& entry : golden->entries()) {
      if (entry.name.rfind("out.", 0) != 0) continue;
      SCOPED_TRACE(entry.name);
      ASSERT_TRUE(result->contains(entry.name));
      const bool sampled = entry.name.rfind("out.denoised", 0) == 0;
      EXPECT_LE(relative_error(result->tensor(entry.name), golden->tensor(entry.name)),
                sampled ? test::kSamplingTolerance : test::kForwardTolerance);
      ++compared;
    }
    EXPECT_EQ(compared, 5) << "pe, pred, schedule, denoised, denoised_latent";
  }
}

// The bfloat16 path computes the same function, to bfloat16's precision.
TEST(FluxGolden, BFloat16ForwardIsCloseToFloat32) {
  const std::string path = test::golden_dir() + "/flux_dev_tiny.safetensors";
  const auto golden = SafetensorsFile::open(path);
  const Weights weights = Weights::load(path);
  const FluxModel model(weights, detect_flux_config(weights), at::kBFloat16);
  const DitInputs in = test::golden_dit_inputs(*golden);
  const at::Tensor pe = model.position_table(in);
  const double error = relative_error(model.forward(in, pe), golden->tensor("out.pred"));
  EXPECT_LE(error, 3e-2);
  EXPECT_GT(error, 0.0) << "bfloat16 compute should not be bit-identical to float32";
}

// A hook that sees every attention call, in order, and answers plainly.
class RecordingHook : public AttentionHook {
 public:
  mutable std::vector<std::pair<std::string, int>> calls;
  at::Tensor attend(const AttentionCall& call) const override {
    calls.emplace_back(call.block.group, call.block.index);
    return plain_attention(call);
  }
};

TEST(FluxGolden, EveryBlockRoutesItsAttentionThroughTheHook) {
  const std::string path = test::golden_dir() + "/flux_dev_tiny.safetensors";
  const auto golden = SafetensorsFile::open(path);
  const Weights weights = Weights::load(path);
  const FluxModel model(weights, detect_flux_config(weights));
  const DitInputs in = test::golden_dit_inputs(*golden);
  const at::Tensor pe = model.position_table(in);
  RecordingHook hook;
  const at::Tensor pred = model.forward(in, pe, &hook);
  EXPECT_LE(relative_error(pred, golden->tensor("out.pred")), test::kForwardTolerance);
  const std::vector<std::pair<std::string, int>> expected = {{"double", 0}, {"double", 1}, {"single", 0}, {"single", 1}};
  EXPECT_EQ(hook.calls, expected);
}


// Real checkpoints store bfloat16 or float16 weights: the same file in those
// dtypes runs and lands within the rounding of its weights, for FLUX.1 and
// FLUX.2 alike.
TEST(FluxGolden, HalfPrecisionCheckpointsRun) {
  for (const char* name : {"flux_dev_tiny", "flux2_klein_tiny"}) {
    const std::string path = test::golden_dir() + "/" + name + ".safetensors";
    const auto golden = SafetensorsFile::open(path);
    for (const at::ScalarType dtype : {at::kBFloat16, at::kHalf}) {
      SCOPED_TRACE(std::string(name) + " " + c10::toString(dtype));
      NamedTensors tensors;
      for (const auto& entry : golden->entries()) {
        const at::Tensor tensor = golden->tensor(entry.name);
        tensors.emplace_back(entry.name, entry.name.rfind("model.", 0) == 0 ? tensor.to(dtype) : tensor);
      }
      const std::string converted = test::scratch_dir() + "/half.safetensors";
      write_safetensors(converted, tensors, golden->metadata());
      const std::string output = test::scratch_dir() + "/out.safetensors";
      const auto run = test::run_untwist({"dit", "--weights", converted, "--inputs", path, "--output", output,
                                          "--threads", "1"});
      ASSERT_EQ(run.status, 0) << run.output;
      const double error = test::relative_error(SafetensorsFile::open(output)->tensor("out.pred"), golden->tensor("out.pred"));
      EXPECT_LE(error, dtype == at::kHalf ? 5e-3 : 3e-2);
      EXPECT_GT(error, 0.0);
    }
  }
}

// The blocked online-softmax attention computes softmax over the union of its
// key segments: several key blocks, a segment shared by every row (batch 1),
// and per-channel key scales, against attention over concatenated keys.
TEST(BlockedAttention, EqualsAttentionOverConcatenatedScaledKeys) {
  at::manual_seed(5);
  const at::Tensor q = at::randn({2, 3, 300, 16}) * 2, k = at::randn({2, 3, 2500, 16}) * 2, v = at::randn({2, 3, 2500, 16});
  const at::Tensor ref_k = at::randn({1, 3, 1100, 16}) * 2, ref_v = at::randn({1, 3, 1100, 16});
  const at::Tensor scale = at::linspace(0.2, 3.0, 16);
  const at::Tensor blocked = blocked_attention(q, {{k, v, {}}, {ref_k, ref_v, scale}});
  const at::Tensor keys = at::cat({k, (ref_k * scale).expand({2, -1, -1, -1})}, 2);
  const at::Tensor values = at::cat({v, ref_v.expand({2, -1, -1, -1})}, 2);
  const at::Tensor expected = scaled_dot_product_attention(q, keys, values);
  EXPECT_LE(relative_error(blocked, expected), 1e-5);
  EXPECT_LE(relative_error(blocked_attention(q, {{k, v, {}}}), scaled_dot_product_attention(q, k, v)), 1e-5);
  // bfloat16 operands: the same function to bfloat16's precision.
  const at::Tensor half = blocked_attention(q.to(at::kBFloat16), {{k.to(at::kBFloat16), v.to(at::kBFloat16), {}}});
  EXPECT_EQ(half.scalar_type(), at::kBFloat16);
  EXPECT_LE(relative_error(half.to(at::kFloat), scaled_dot_product_attention(q, k, v)), 2e-2);
}

}  // namespace
}  // namespace untwist
