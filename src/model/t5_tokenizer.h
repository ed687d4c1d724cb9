// T5's tokenizer: a sentencepiece model (spiece.model), </s> appended,
// padded with <pad> (FLUX: 512 tokens for guidance-embedded models, 256 otherwise).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace untwist {

class T5Tokenizer {
 public:
  static constexpr int64_t kPad = 0;
  static constexpr int64_t kEos = 1;

  // DataError naming the file when it is not a sentencepiece model.
  static T5Tokenizer load(const std::string& path);

  // sentencepiece ids, no special tokens.
  std::vector<int64_t> encode(const std::string& text) const;
  // ids[:max_length-1] + </s>, padded with <pad> to max_length.
  std::vector<int64_t> input_ids(const std::string& text, int64_t max_length) const;

 private:
  struct Model;
  std::shared_ptr<Model> model_;
};

}  // namespace untwist
