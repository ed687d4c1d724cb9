// The Qwen3 text encoder against the reference implementation: through
// `untwist te --kind qwen3` for every qwen3-text golden file, and through its
// API (partial stacks, other name prefixes, bfloat16 weights, bad tensors).
#include <gtest/gtest.h>

#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <numeric>

#include "io/safetensors.h"
#include "io/weights.h"
#include "model/qwen3_text.h"
#include "test_support.h"
#include "util/errors.h"

namespace untwist {
namespace {

std::string golden_qwen3() {
  const auto files = test::golden_files_of_kind("qwen3-text");
  if (files.empty()) ADD_FAILURE() << "expected qwen3-text golden files in " << test::golden_dir();
  return files.empty() ? std::string() : files.front();
}

// The runner's out.* against the file's, at the forward tolerance or `tolerance`.
void expect_runner_matches(const std::string& golden_path, const std::vector<std::string>& extra_args,
                           const std::string& weights_path, double tolerance) {
  const std::string output = test::scratch_dir() + "/out.safetensors";
  std::vector<std::string> args{"te", "--kind", "qwen3", "--weights", weights_path, "--inputs", golden_path,
                                "--output", output};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  const auto run = test::run_untwist(args);
  ASSERT_EQ(run.status, 0) << run.output;
  const auto golden = SafetensorsFile::open(golden_path);
  const auto result = SafetensorsFile::open(output);
  int compared = 0;
  for (const auto& entry : golden->entries()) {
    if (entry.name.rfind("out.", 0) != 0) continue;
    SCOPED_TRACE(entry.name);
    ASSERT_TRUE(result->contains(entry.name));
    const double error = test::relative_error(result->tensor(entry.name), golden->tensor(entry.name));
    std::cout << "  " << entry.name << ": relative error " << error << "\n";
    EXPECT_LE(error, tolerance);
    ++compared;
  }
  EXPECT_GE(compared, 2);
}

TEST(Qwen3Golden, RunnerReproducesEveryFile) {
  const auto files = test::golden_files_of_kind("qwen3-text");
  ASSERT_GE(files.size(), 1u) << "expected qwen3-text golden files in " << test::golden_dir();
  for (const auto& path : files) {
    SCOPED_TRACE(path);
    expect_runner_matches(path, {}, path, test::kForwardTolerance);
  }
}

TEST(Qwen3Golden, BfloatWeightsStayClose) {
  const std::string path = golden_qwen3();
  const auto golden = SafetensorsFile::open(path);
  NamedTensors weights;
  for (const auto& entry : golden->entries()) {
    if (entry.name.rfind("model.", 0) != 0) continue;
    weights.emplace_back(entry.name, golden->tensor(entry.name).to(at::kBFloat16));
  }
  const std::string bf16_path = test::scratch_dir() + "/qwen3_bf16.safetensors";
  write_safetensors(bf16_path, weights, golden->metadata());
  expect_runner_matches(path, {}, bf16_path, 2e-2);
}

struct GoldenInputs {
  at::Tensor ids, mask, context;
};

GoldenInputs golden_inputs(const std::string& path) {
  const auto golden = SafetensorsFile::open(path);
  return {golden->tensor("in.input_ids"), golden->tensor("in.attention_mask"), golden->tensor("out.context")};
}

std::vector<int64_t> golden_output_layers(const Weights& weights) {
  return nlohmann::json::parse(weights.metadata().at("output_layers")).get<std::vector<int64_t>>();
}

TEST(Qwen3Golden, PartialStackEqualsTheFullModel) {
  const std::string path = golden_qwen3();
  const Weights weights = Weights::load(path);
  const Qwen3Config config = detect_qwen3_config(weights);
  const GoldenInputs in = golden_inputs(path);
  std::vector<int64_t> every(static_cast<size_t>(config.num_layers + 1));
  std::iota(every.begin(), every.end(), 0);
  const Qwen3TextEncoder full(weights, config, every);
  const std::vector<at::Tensor> all = full.hidden_states(in.ids, in.mask);
  for (int64_t k = 0; k <= config.num_layers; ++k) {
    SCOPED_TRACE(k);
    const Qwen3TextEncoder partial(weights, config, {k});
    EXPECT_EQ(partial.built_layers(), k);
    EXPECT_LE(test::relative_error(partial.hidden_states(in.ids, in.mask).front(), all[static_cast<size_t>(k)]), 1e-6);
  }
}

TEST(Qwen3Golden, LayersPastTheHighestOutputAreNeverRead) {
  const std::string path = golden_qwen3();
  const Weights weights = Weights::load(path);
  const Qwen3Config config = detect_qwen3_config(weights);
  const std::vector<int64_t> layers = golden_output_layers(weights);
  const int64_t highest = *std::max_element(layers.begin(), layers.end());
  ASSERT_LT(highest, config.num_layers) << "the golden context should not need the whole stack";
  TensorMap kept;
  for (auto& [name, tensor] : weights.tensors()) {
    bool needed = name != "model.norm.weight";
    for (int64_t n = highest; n < config.num_layers; ++n) {
      if (name.rfind("model.layers." + std::to_string(n) + ".", 0) == 0) needed = false;
    }
    if (needed) kept.emplace(name, tensor);
  }
  const Qwen3TextEncoder encoder(Weights::from_tensors(kept, "truncated"), config, layers);
  const GoldenInputs in = golden_inputs(path);
  EXPECT_LE(test::relative_error(encoder.context(in.ids, in.mask), in.context), test::kForwardTolerance);
}

TEST(Qwen3Golden, AnyNamePrefixIsFound) {
  const std::string path = golden_qwen3();
  const Weights weights = Weights::load(path);
  const GoldenInputs in = golden_inputs(path);
  const std::vector<int64_t> layers = golden_output_layers(weights);
  for (const std::string prefix : {"", "text_encoders.qwen3_4b.transformer.model."}) {
    SCOPED_TRACE("prefix '" + prefix + "'");
    TensorMap renamed;
    for (auto& [name, tensor] : weights.tensors()) {
      renamed.emplace(prefix + name.substr(std::string("model.").size()), tensor);
    }
    const Weights moved = Weights::from_tensors(renamed, "renamed");
    EXPECT_EQ(qwen3_weight_prefix(moved), prefix);
    Qwen3Config config = detect_qwen3_config(moved);
    config.rope_theta = detect_qwen3_config(weights).rope_theta;  // the metadata stayed behind
    const Qwen3TextEncoder encoder(moved, config, layers);
    EXPECT_LE(test::relative_error(encoder.context(in.ids, in.mask), in.context), test::kForwardTolerance);
  }
}

// The DataError message from building the encoder on the golden weights after `edit`.
std::string construction_error(const std::function<void(TensorMap&)>& edit) {
  const Weights weights = Weights::load(golden_qwen3());
  const Qwen3Config config = detect_qwen3_config(weights);
  TensorMap tensors = weights.tensors();
  edit(tensors);
  try {
    (void)Qwen3TextEncoder(Weights::from_tensors(tensors, "edited.safetensors"), config, {config.num_layers});
  } catch (const DataError& error) {
    return error.what();
  }
  return "";
}

TEST(Qwen3Golden, MissingOrMisshapenTensorIsNamed) {
  const std::string missing = construction_error([](TensorMap& t) { t.erase("model.layers.3.mlp.up_proj.weight"); });
  EXPECT_NE(missing.find("edited.safetensors"), std::string::npos) << missing;
  EXPECT_NE(missing.find("missing tensor 'model.layers.3.mlp.up_proj.weight'"), std::string::npos) << missing;

  const std::string misshapen = construction_error([](TensorMap& t) {
    t["model.layers.2.self_attn.v_proj.weight"] = t["model.layers.2.self_attn.v_proj.weight"].t().contiguous();
  });
  EXPECT_NE(misshapen.find("'model.layers.2.self_attn.v_proj.weight' has shape [64, 32], expected [32, 64]"),
            std::string::npos)
      << misshapen;
}

TEST(Qwen3Golden, NotAQwen3FileIsNamed) {
  const std::string output = test::scratch_dir() + "/out.safetensors";
  const std::string t5 = test::golden_dir() + "/t5_encoder_tiny.safetensors";
  const auto run = test::run_untwist({"te", "--kind", "qwen3", "--weights", t5, "--inputs", t5, "--output", output});
  EXPECT_EQ(run.status, 1) << run.output;
  EXPECT_NE(run.output.find("not a Qwen3 model"), std::string::npos) << run.output;
}

TEST(Qwen3Golden, OutputLayerPastTheStackIsAUsageError) {
  const Weights weights = Weights::load(golden_qwen3());
  const Qwen3Config config = detect_qwen3_config(weights);
  EXPECT_THROW((void)Qwen3TextEncoder(weights, config, {config.num_layers + 1}), UsageError);
  const std::string path = golden_qwen3();
  const auto run = test::run_untwist({"te", "--kind", "qwen3", "--weights", path, "--inputs", path, "--output",
                                      test::scratch_dir() + "/out.safetensors", "--layers", "2,40"});
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_NE(run.output.find("40"), std::string::npos) << run.output;
}

}  // namespace
}  // namespace untwist
