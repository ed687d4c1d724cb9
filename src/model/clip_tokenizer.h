// CLIP's byte-level BPE tokenizer, from OpenAI's bpe_simple_vocab_16e6.txt.gz
// or from HuggingFace's vocab.json + merges.txt, with the reference text
// clean-up. Ids: BOS 49406, EOS 49407 in the real vocabulary.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace untwist {

class ClipTokenizer {
 public:
  // A .gz file is OpenAI's merges list; a folder or vocab.json is
  // HuggingFace's (merges.txt beside it). DataError on a bad file.
  static ClipTokenizer load(const std::string& path);

  // BPE ids of the cleaned text, no BOS/EOS; stops once `max_ids` are found.
  std::vector<int64_t> encode(const std::string& text, size_t max_ids = SIZE_MAX) const;
  // The FLUX/HF convention: BOS, ids[:max_length-2], EOS, padded with EOS.
  std::vector<int64_t> input_ids(const std::string& text, int64_t max_length = 77) const;

  int64_t bos() const { return bos_; }
  int64_t eos() const { return eos_; }

 private:
  // word: byte-mapped text, no </w>. Words longer than kMaxBpeSymbols are
  // merged in pieces of that many symbols (no prompt word is that long; the
  // plain merge loop is quadratic in the word's length).
  std::vector<std::string> bpe(const std::string& word) const;
  static constexpr size_t kMaxBpeSymbols = 256;
  std::vector<std::string> merge_symbols(std::vector<std::string> symbols) const;  // the merge loop
  std::unordered_map<std::string, int64_t> encoder_;
  std::map<std::pair<std::string, std::string>, int> ranks_;
  int64_t bos_ = 0, eos_ = 0;
};

}  // namespace untwist
