// The tokenizers against every golden case, with the real CLIP vocabulary and
// the tiny T5 sentencepiece model; the HuggingFace file format; `untwist tokenize`.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "model/clip_tokenizer.h"
#include "model/t5_tokenizer.h"
#include "model/text_cleanup.h"
#include "test_support.h"
#include "util/errors.h"

namespace untwist {
namespace {

std::string tokenizers_dir() { return test::golden_dir() + "/../tokenizers"; }

nlohmann::json cases(const std::string& name) {
  std::ifstream file(test::golden_dir() + "/" + name);
  return nlohmann::json::parse(file);
}

TEST(ClipTokenizer, EveryGoldenCase) {
  const ClipTokenizer tokenizer = ClipTokenizer::load(tokenizers_dir() + "/clip/bpe_simple_vocab_16e6.txt.gz");
  const auto golden = cases("clip_tokenizer_cases.json");
  ASSERT_GE(golden["cases"].size(), 40u);
  for (const auto& c : golden["cases"]) {
    const std::string text = c["text"];
    SCOPED_TRACE(text);
    EXPECT_EQ(clip_clean_text(text), c["normalized"].get<std::string>());
    EXPECT_EQ(tokenizer.encode(text), c["bpe_ids"].get<std::vector<int64_t>>());
    EXPECT_EQ(tokenizer.input_ids(text, 77), c["input_ids"].get<std::vector<int64_t>>());
  }
  EXPECT_EQ(tokenizer.bos(), 49406);
  EXPECT_EQ(tokenizer.eos(), 49407);
}

TEST(T5Tokenizer, EveryGoldenCase) {
  const T5Tokenizer tokenizer = T5Tokenizer::load(tokenizers_dir() + "/t5_tiny/spiece.model");
  const auto golden = cases("t5_tokenizer_cases.json");
  const int64_t max_length = golden["max_length"];
  ASSERT_GE(golden["cases"].size(), 30u);
  for (const auto& c : golden["cases"]) {
    const std::string text = c["text"];
    SCOPED_TRACE(text);
    EXPECT_EQ(tokenizer.encode(text), c["sp_ids"].get<std::vector<int64_t>>());
    EXPECT_EQ(tokenizer.input_ids(text, max_length), c["input_ids"].get<std::vector<int64_t>>());
  }
}

TEST(T5Tokenizer, NotASentencepieceModelIsNamed) {
  const std::string path = test::scratch_dir() + "/spiece.model";
  std::ofstream(path) << "definitely not a protobuf";
  try {
    T5Tokenizer::load(path);
    FAIL() << "no error";
  } catch (const DataError& error) {
    EXPECT_NE(std::string(error.what()).find(path), std::string::npos) << error.what();
  }
}

TEST(ClipTokenizer, ReadsHuggingFaceVocabAndMerges) {
  const std::string dir = test::scratch_dir();
  std::ofstream(dir + "/vocab.json") << R"({"a": 0, "b": 1, "a</w>": 2, "b</w>": 3, "ab</w>": 4, "ba": 5,)"
                                     << R"( "<|startoftext|>": 6, "<|endoftext|>": 7})";
  std::ofstream(dir + "/merges.txt") << "#version: 0.2\nb a\na b</w>\n";
  const ClipTokenizer tokenizer = ClipTokenizer::load(dir);
  EXPECT_EQ(tokenizer.encode("ab"), (std::vector<int64_t>{4}));
  EXPECT_EQ(tokenizer.encode("ba Ab"), (std::vector<int64_t>{1, 2, 4}));  // "b a</w>": no merge ranks "b a</w>"
  EXPECT_EQ(tokenizer.input_ids("ab", 5), (std::vector<int64_t>{6, 4, 7, 7, 7}));
  std::ofstream(dir + "/merges.txt") << "#version: 0.2\nb\n";
  EXPECT_THROW(ClipTokenizer::load(dir), DataError);
}

TEST(TextCleanup, FixesWhatPromptsMeet) {
  EXPECT_EQ(fix_text("cafe\xCC\x81"), "caf\xC3\xA9");                    // NFC
  EXPECT_EQ(fix_text("caf\xC3\x83\xC2\xA9"), "caf\xC3\xA9");             // mojibake "cafÃ©"
  EXPECT_EQ(fix_text("caf\xC3\xA9"), "caf\xC3\xA9");                     // genuine é stays
  EXPECT_EQ(fix_text("\xEF\xAC\x81ne"), "fine");                         // ligature
  EXPECT_EQ(fix_text("\xEF\xBC\xA1\xEF\xBC\xA2"), "AB");                 // full width
  EXPECT_EQ(fix_text("\xE2\x80\x9Cq\xE2\x80\x9D \xE2\x80\x98s\xE2\x80\x99"), "\"q\" 's'");
  EXPECT_EQ(unescape_html("&amp;lt; &#65;&#x42; &bogus; & &"), "&lt; AB &bogus; & &");
  EXPECT_EQ(clip_clean_text("  Two\t\nWORDS\xC2\xA0here "), "two words here");
  EXPECT_THROW(clip_clean_text("bad \xFF byte"), DataError);
}

TEST(TokenizeCommand, PrintsThePaddedIdsAsJson) {
  const auto clip = test::run_untwist({"tokenize", "--kind", "clip", "--tokenizer",
                                       tokenizers_dir() + "/clip/bpe_simple_vocab_16e6.txt.gz", "a photo of a cat"});
  ASSERT_EQ(clip.status, 0) << clip.output;
  const auto ids = nlohmann::json::parse(clip.output).get<std::vector<int64_t>>();
  ASSERT_EQ(ids.size(), 77u);
  EXPECT_EQ(std::vector<int64_t>(ids.begin(), ids.begin() + 8),
            (std::vector<int64_t>{49406, 320, 1125, 539, 320, 2368, 49407, 49407}));
  const auto t5 = test::run_untwist({"tokenize", "--kind", "t5", "--tokenizer",
                                     tokenizers_dir() + "/t5_tiny/spiece.model", "a photo of a cat"});
  ASSERT_EQ(t5.status, 0) << t5.output;
  EXPECT_EQ(nlohmann::json::parse(t5.output).size(), 512u);
  const auto bad = test::run_untwist({"tokenize", "--kind", "t5", "--tokenizer",
                                      tokenizers_dir() + "/clip/bpe_simple_vocab_16e6.txt.gz", "x"});
  EXPECT_EQ(bad.status, 1) << bad.output;
}

}  // namespace
}  // namespace untwist
