// `cmake --install` into a scratch prefix, then the installed binary run
// through a symlink from an unrelated folder: --version, the demo on the
// installed toy model, and the T5 (the sentencepiece module) and CLIP
// tokenizers against their golden ids.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "test_support.h"

namespace untwist {
namespace {

namespace fs = std::filesystem;

struct Installed {
  fs::path prefix;  // what cmake --install wrote
  fs::path link;    // a symlink to prefix/bin/untwist in a folder of its own
  fs::path elsewhere;  // the working folder of every run: no models/, no build/
  test::RunResult install;
};

const Installed& installed() {
  static const Installed once = [] {
    Installed result;
    const fs::path root = test::scratch_dir();
    result.prefix = root / "prefix";
    result.install = test::run_program(UNTWIST_CMAKE, {"--install", UNTWIST_BUILD_DIR, "--prefix", result.prefix.string()});
    fs::create_directories(root / "links");
    result.link = root / "links" / "untwist";
    fs::create_symlink(result.prefix / "bin" / "untwist", result.link);
    result.elsewhere = root / "elsewhere";
    fs::create_directories(result.elsewhere);
    return result;
  }();
  return once;
}

test::RunResult run_installed(const std::vector<std::string>& args) {
  return test::run_program(installed().link.string(), args, installed().elsewhere.string());
}

nlohmann::json first_case(const std::string& name) {
  std::ifstream file(test::golden_dir() + "/" + name);
  return nlohmann::json::parse(file)["cases"].at(0);
}

std::string tokenizers_dir() { return test::golden_dir() + "/../tokenizers"; }

TEST(Install, LaysOutThePrefix) {
  ASSERT_EQ(installed().install.status, 0) << installed().install.output;
  const fs::path& prefix = installed().prefix;
  EXPECT_TRUE(fs::is_regular_file(prefix / "bin" / "untwist"));
  EXPECT_TRUE(fs::is_regular_file(prefix / "lib" / "untwist" / "libuntwist_sentencepiece.so"));
  EXPECT_TRUE(fs::is_regular_file(prefix / "share" / "untwist" / "models" / "toy" / "toy.safetensors"));
  EXPECT_TRUE(fs::is_regular_file(prefix / "share" / "untwist" / "models" / "toy" / "README.md"));
}

TEST(Install, VersionNamesTheProjectVersion) {
  ASSERT_EQ(installed().install.status, 0) << installed().install.output;
  const auto run = run_installed({"--version"});
  ASSERT_EQ(run.status, 0) << run.output;
  EXPECT_EQ(run.output.rfind(std::string("untwist ") + UNTWIST_PROJECT_VERSION + " (git ", 0), 0u) << run.output;
}

TEST(Install, DemoRunsOnTheInstalledToyModel) {
  ASSERT_EQ(installed().install.status, 0) << installed().install.output;
  const auto run = run_installed({"demo", "-o", "demo-out"});
  ASSERT_EQ(run.status, 0) << run.output;
  const fs::path model = fs::canonical(installed().prefix / "share" / "untwist" / "models" / "toy" / "toy.safetensors");
  EXPECT_NE(run.output.find("model " + model.string() + ";"), std::string::npos) << run.output;
  for (const char* file : {"grid.png", "metrics.csv", "rope_bands.png"}) {
    EXPECT_GT(fs::file_size(installed().elsewhere / "demo-out" / file), 0u) << file;
  }
}

TEST(Install, T5TokenizerLoadsTheInstalledModule) {
  ASSERT_EQ(installed().install.status, 0) << installed().install.output;
  const nlohmann::json c = first_case("t5_tokenizer_cases.json");
  const auto run = run_installed({"tokenize", "--kind", "t5", "--tokenizer", tokenizers_dir() + "/t5_tiny/spiece.model",
                                  "--max-length", std::to_string(c["input_ids"].size()), c["text"].get<std::string>()});
  ASSERT_EQ(run.status, 0) << run.output;
  EXPECT_EQ(nlohmann::json::parse(run.output), c["input_ids"]);
}

TEST(Install, ClipTokenizerRuns) {
  ASSERT_EQ(installed().install.status, 0) << installed().install.output;
  const nlohmann::json c = first_case("clip_tokenizer_cases.json");
  const auto run = run_installed({"tokenize", "--kind", "clip", "--tokenizer",
                                  tokenizers_dir() + "/clip/bpe_simple_vocab_16e6.txt.gz", c["text"].get<std::string>()});
  ASSERT_EQ(run.status, 0) << run.output;
  EXPECT_EQ(nlohmann::json::parse(run.output), c["input_ids"]);
}

}  // namespace
}  // namespace untwist
