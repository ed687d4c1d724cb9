// The FLUX DiT, its RoPE table and its sampler against the reference outputs,
// through the `untwist dit` runner, for every flux-dit golden file (both layouts).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <set>

#include "io/safetensors.h"
#include "io/weights.h"
#include "model/activations.h"
#include "model/attention.h"
#include "model/dit_layers.h"
#include "model/flux1/flux.h"
#include "model/fused_activations_bf16.h"
#include "model/fused_attention_bf16.h"
#include "test_support.h"
#include "util/cpu_features.h"

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
    args.insert(args.end(), {"--device", test::test_device(), "--dtype", "float32", "--pred"});
    const auto run = test::run_untwist(args);
    ASSERT_EQ(run.status, 0) << run.output;
    const auto result = SafetensorsFile::open(output);

    EXPECT_EQ(test::expect_outputs_match(*golden, *result), 5) << "pe, pred, schedule, denoised, denoised_latent";
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

// --dump writes each forward pass's named intermediates; final_layer is the
// prediction itself, and every step gets its own file.
TEST(FluxGolden, DumpWritesTheNamedIntermediatesOfEachPass) {
  const std::string path = test::golden_dir() + "/flux_dev_tiny.safetensors";
  const std::string dir = test::scratch_dir();
  const std::string output = dir + "/out.safetensors";
  const auto run = test::run_untwist({"dit", "--weights", path, "--inputs", path, "--output", output, "--steps", "2",
                                      "--pred", "--dtype", "float32", "--dump", "*", dir + "/dump"});
  ASSERT_EQ(run.status, 0) << run.output;
  const auto pred = SafetensorsFile::open(dir + "/dump/pred.safetensors");
  std::set<std::string> names;
  for (const auto& entry : pred->entries()) names.insert(entry.name);
  const std::set<std::string> expected = {"img_in",           "txt_in",          "vec",
                                             "double_blocks.0.img", "double_blocks.0.txt", "double_blocks.1.img",
                                             "double_blocks.1.txt", "single_blocks.0", "single_blocks.1",
                                             "final_layer"};
  EXPECT_EQ(names, expected);
  const auto result = SafetensorsFile::open(output);
  EXPECT_TRUE(pred->tensor("final_layer").equal(result->tensor("out.pred")));
  const auto golden = SafetensorsFile::open(path);
  const int64_t image_tokens = golden->tensor("in.img").size(1);
  EXPECT_EQ(pred->tensor("single_blocks.1").size(1), image_tokens + golden->tensor("in.txt").size(1));
  for (const char* step : {"step_00", "step_01"}) {
    const auto file = SafetensorsFile::open(dir + "/dump/" + step + ".safetensors");
    EXPECT_EQ(file->entries().size(), expected.size()) << step;
  }

  // Sampling alone runs no prediction: no out.pred, no pred pass, the same samples.
  const auto sampling = test::run_untwist({"dit", "--weights", path, "--inputs", path, "--output", dir + "/s.safetensors",
                                           "--steps", "2", "--dtype", "float32", "--dump", "*", dir + "/sampling"});
  ASSERT_EQ(sampling.status, 0) << sampling.output;
  const auto sampled = SafetensorsFile::open(dir + "/s.safetensors");
  EXPECT_FALSE(sampled->contains("out.pred"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/sampling/pred.safetensors"));
  EXPECT_TRUE(sampled->tensor("out.denoised").equal(result->tensor("out.denoised")));

  // A pattern that matches nothing says which names there are.
  const auto none = test::run_untwist({"dit", "--weights", path, "--inputs", path, "--output", output, "--dump",
                                       "single_block_*", dir + "/none"});
  ASSERT_EQ(none.status, 0) << none.output;
  EXPECT_NE(none.output.find("matched no intermediate; the forward pass names double_blocks.0.img"),
            std::string::npos)
      << none.output;
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
                                          "--threads", "1", "--dtype", "float32"});
      ASSERT_EQ(run.status, 0) << run.output;
      const double error = test::relative_error(SafetensorsFile::open(output)->tensor("out.pred"), golden->tensor("out.pred"));
      EXPECT_LE(error, dtype == at::kHalf ? 5e-3 : 3e-2);
      EXPECT_GT(error, 0.0);
    }
  }
}

// softmax(q k^T / sqrt(D)) v in float64 with one score matrix: the reference
// the chunked path must equal.
at::Tensor naive_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& mask = {}) {
  at::Tensor scores = at::matmul(q.to(at::kDouble), k.to(at::kDouble).transpose(-1, -2)) / std::sqrt(double(q.size(3)));
  if (mask.defined()) {
    scores = scores.masked_fill(at::logical_not(mask).reshape({mask.size(0), 1, 1, mask.size(1)}),
                                -std::numeric_limits<double>::infinity());
  }
  return at::matmul(at::softmax(scores, -1), v.to(at::kDouble));
}

// The model's chunked attention over several query chunks and several chunks
// of (row, head) problems (FLUX at 1024x1024 runs 9 query chunks), with and
// without a key mask, and in bfloat16, against naive float64 attention.
TEST(ChunkedAttention, EqualsNaiveSoftmaxAcrossChunks) {
  at::manual_seed(5);
  // 2 rows x 3 heads x 1500 queries over 2500 keys: 8 MiB score chunks make 2
  // query chunks (838 + 662 rows) and 6 problem chunks.
  const at::Tensor q = at::randn({2, 3, 1500, 16}) * 2, k = at::randn({2, 3, 2500, 16}) * 2, v = at::randn({2, 3, 2500, 16});
  EXPECT_LE(relative_error(scaled_dot_product_attention(q, k, v), naive_attention(q, k, v)), 1e-5);
  at::Tensor mask = at::rand({2, 2500}) < 0.7;
  mask[1].narrow(0, 2000, 500).fill_(false);  // a row whose tail is masked, as right padding is
  EXPECT_LE(relative_error(scaled_dot_product_attention(q, k, v, mask), naive_attention(q, k, v, mask)), 1e-5);
  EXPECT_GT(relative_error(scaled_dot_product_attention(q, k, v), naive_attention(q, k, v, mask)), 1e-2)
      << "the mask must matter";
  const at::Tensor half = scaled_dot_product_attention(q.to(at::kBFloat16), k.to(at::kBFloat16), v.to(at::kBFloat16));
  EXPECT_EQ(half.scalar_type(), at::kBFloat16);
  EXPECT_LE(relative_error(half.to(at::kFloat), naive_attention(q, k, v).to(at::kFloat)), 2e-2);
}

// The fused bfloat16 kernel (AVX512-BF16 CPUs) against float64 attention of
// the same bfloat16 operands, for each head width it takes: query and key
// counts that are not whole blocks, logits large enough that a row's maximum
// moves from block to block, a boolean mask with a masked tail, and float
// biases (log weights and -inf). The error allowed is a few bfloat16
// roundings (the weights' and the output's, 2^-9 each); a wrong key, scale or
// row is off by far more.
TEST(FusedBf16Attention, EqualsFloat64AttentionOfTheSameOperands) {
  if (!bf16_support().avx512_bf16) GTEST_SKIP() << "no AVX512-BF16 on this CPU: the fused kernel does not run here";
  at::manual_seed(11);
  for (const int64_t dim : {32, 64, 128}) {
    SCOPED_TRACE("head width " + std::to_string(dim));
    for (const double spread : {1.0, 3.0}) {
      const auto operand = [&](int64_t length) {
        return (at::randn({2, 3, length, dim}) * spread).to(at::kBFloat16);
      };
      const at::Tensor q = operand(77), k = operand(1001), v = operand(1001) / spread;
      ASSERT_TRUE(fused_bf16_attention_runs(q, k, v));
      const at::Tensor mask = at::rand({2, 1001}) < 0.7;
      mask[1].narrow(0, 900, 101).fill_(false);
      const at::Tensor weights = at::rand({2, 1001}) * 3 + 0.05;
      at::Tensor bias = weights.log();
      bias[0].narrow(0, 0, 500).fill_(-std::numeric_limits<float>::infinity());
      const auto naive_bias = [&](const at::Tensor& b) {
        const at::Tensor scores =
            at::matmul(q.to(at::kDouble), k.to(at::kDouble).transpose(-1, -2)) / std::sqrt(double(dim)) +
            b.to(at::kDouble).reshape({2, 1, 1, 1001});
        return at::matmul(at::softmax(scores, -1), v.to(at::kDouble));
      };
      const std::vector<std::pair<at::Tensor, at::Tensor>> cases = {
          {scaled_dot_product_attention(q, k, v), naive_attention(q, k, v)},
          {scaled_dot_product_attention(q, k, v, mask), naive_attention(q, k, v, mask)},
          {scaled_dot_product_attention(q, k, v, bias), naive_bias(bias)},
      };
      for (const auto& [fused, exact] : cases) {
        EXPECT_EQ(fused.scalar_type(), at::kBFloat16);
        EXPECT_LE(relative_error(fused.to(at::kDouble), exact), 4e-3);
        EXPECT_LE((fused.to(at::kDouble) - exact).abs().max().item<double>() / exact.abs().max().item<double>(), 1e-2);
      }
      EXPECT_GT(relative_error(cases[1].first.to(at::kDouble), cases[0].second), 5e-2) << "the mask must matter";
    }
  }
  const at::Tensor narrow = at::randn({1, 1, 8, 16}).to(at::kBFloat16), wide = at::randn({1, 1, 8, 64});
  EXPECT_FALSE(fused_bf16_attention_runs(narrow, narrow, narrow)) << "head width 16 has no kernel";
  EXPECT_FALSE(fused_bf16_attention_runs(wide, wide, wide)) << "float32 keeps libtorch's path";
  const at::Tensor learning = wide.to(at::kBFloat16).requires_grad_();
  EXPECT_FALSE(fused_bf16_attention_runs(learning, learning, learning)) << "the kernel has no backward";
}

// Largest |a - b| relative to max(|b|, floor), elementwise.
double max_relative_difference(const at::Tensor& a, const at::Tensor& b, double floor) {
  const at::Tensor wide = b.to(at::kDouble);
  return ((a.to(at::kDouble) - wide).abs() / wide.abs().clamp_min(floor)).max().item<double>();
}

// The one-pass bfloat16 kernel (AVX512-BF16 CPUs) against float64 of the
// same bfloat16 inputs, one rounding step allowed: inputs whose sigmoid
// saturates either way (|x| up to 100), rows that are a slice of a wider
// tensor (as the single-stream block's MLP half is) and so strided, rows
// whose length is not a whole number of vectors or of the kernel's chunks,
// a transposed input (copied first), and NaN, which must come through.
TEST(FusedBf16Activations, EqualFloat64RoundedOnceForStridedRowsAndTails) {
  if (!bf16_support().avx512_bf16) GTEST_SKIP() << "no AVX512-BF16 on this CPU: the fused kernel does not run here";
  at::manual_seed(5);
  const at::Tensor wide = (at::randn({2, 37, 3 * 4099}, at::kDouble) * 6).to(at::kBFloat16);
  wide[0][0].narrow(0, 4099, 8).copy_(at::tensor({-100.0, -30.0, -9.0, 0.0, 9.0, 30.0, 100.0, -0.0}));
  const at::Tensor slice = wide.narrow(2, 4099, 4099), tail = wide.narrow(2, 0, 13);
  const at::Tensor transposed = wide.narrow(2, 0, 300).transpose(1, 2);
  for (const at::Tensor& x : {slice, slice.unsqueeze(1), tail, transposed}) {
    ASSERT_TRUE(fused_bf16_activation_runs(x));
    const at::Tensor wide_x = x.to(at::kDouble);
    for (const auto& [name, ours, reference] :
         {std::tuple{"gelu_tanh", fused_bf16_activation(x, Activation::GeluTanh), at::gelu(wide_x, "tanh")},
          std::tuple{"silu", fused_bf16_activation(x, Activation::Silu), at::silu(wide_x)}}) {
      SCOPED_TRACE(std::string(name) + " of " + std::to_string(x.size(-2)) + "x" + std::to_string(x.size(-1)));
      EXPECT_EQ(ours.scalar_type(), at::kBFloat16);
      EXPECT_EQ(ours.sizes(), x.sizes());
      EXPECT_TRUE(ours.is_contiguous());
      EXPECT_LE(max_relative_difference(ours, reference, 1e-2), std::ldexp(1.0, -8));
    }
  }
  const at::Tensor with_nan = at::tensor({1.0, NAN, -2.0}).to(at::kBFloat16);
  const at::Tensor out = fused_bf16_activation(with_nan, Activation::GeluTanh);
  EXPECT_TRUE(std::isnan(out[1].item<float>()));
  EXPECT_FALSE(std::isnan(out[0].item<float>()) || std::isnan(out[2].item<float>()));
  EXPECT_FALSE(fused_bf16_activation_runs(at::randn({4, 16}))) << "float32 keeps the float32 path";
  EXPECT_FALSE(fused_bf16_activation_runs(at::randn({4, 16}).to(at::kBFloat16).requires_grad_()))
      << "the kernel has no backward";
}

// The activations and the layer norm are computed in float32 whatever the
// dtype: the float32 results match float64 libtorch, values and gradients,
// and the bfloat16 ones are float64's rounded to bfloat16 (within one
// rounding step, 2^-8 relative).
TEST(Activations, MatchFloat64AndRoundOnceToBFloat16) {
  const at::Tensor x = at::linspace(-9, 9, 20001, at::kDouble);
  const at::Tensor gelu = at::gelu(x, "tanh"), silu_x = at::silu(x);
  EXPECT_LE(max_relative_difference(gelu_tanh(x.to(at::kFloat)), gelu, 1e-3), 2e-6);
  EXPECT_LE(max_relative_difference(silu_float32(x.to(at::kFloat)), silu_x, 1e-3), 2e-6);
  EXPECT_GT(max_relative_difference(gelu_tanh(x.to(at::kFloat)), at::gelu(x), 1e-3), 1e-4)
      << "the tanh approximation, not the erf GELU";

  const at::Tensor grad_in = x.to(at::kFloat).requires_grad_(true);
  gelu_tanh(grad_in).sum().backward();
  const at::Tensor grad_ref = x.clone().requires_grad_(true);
  at::gelu(grad_ref, "tanh").sum().backward();
  EXPECT_LE(max_relative_difference(grad_in.grad(), grad_ref.grad(), 1e-2), 1e-5);

  const at::Tensor xb = x.to(at::kBFloat16);  // the float64 reference of bfloat16 inputs
  for (const auto& [name, ours, reference] :
       {std::tuple{"gelu_tanh", gelu_tanh(xb), at::gelu(xb.to(at::kDouble), "tanh")},
        std::tuple{"silu", silu_float32(xb), at::silu(xb.to(at::kDouble))}}) {
    SCOPED_TRACE(name);
    EXPECT_EQ(ours.scalar_type(), at::kBFloat16);
    EXPECT_LE(max_relative_difference(ours, reference, 1e-2), std::ldexp(1.0, -8));
  }

  // Outside autograd they run in pieces of 256k values: a tensor of several
  // pieces and a partial last one, given transposed (not contiguous).
  at::manual_seed(3);
  const at::Tensor many = (at::randn({300, 3, 700}, at::kDouble) * 4).transpose(0, 2);
  for (const at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
    const at::Tensor in = many.to(dtype);
    const double tolerance = dtype == at::kFloat ? 2e-6 : std::ldexp(1.0, -8);
    EXPECT_EQ(gelu_tanh(in).sizes(), in.sizes());
    EXPECT_LE(max_relative_difference(gelu_tanh(in), at::gelu(in.to(at::kDouble), "tanh"), 1e-2), tolerance);
    EXPECT_LE(max_relative_difference(silu_float32(in), at::silu(in.to(at::kDouble)), 1e-2), tolerance);
  }

  const at::Tensor rows = at::randn({4, 7, 3072}, at::kDouble) * 3 + 1;
  const at::Tensor norm = at::layer_norm(rows, {3072}, {}, {}, 1e-6);
  EXPECT_LE(max_relative_difference(layer_norm(rows.to(at::kFloat)), norm, 1e-2), 1e-5);
  const at::Tensor rows_b = rows.to(at::kBFloat16);
  const at::Tensor norm_b = layer_norm(rows_b);
  EXPECT_EQ(norm_b.scalar_type(), at::kBFloat16);
  EXPECT_LE(max_relative_difference(norm_b, at::layer_norm(rows_b.to(at::kDouble), {3072}, {}, {}, 1e-6), 1e-2),
            std::ldexp(1.0, -8));
}

}  // namespace
}  // namespace untwist
