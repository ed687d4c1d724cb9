// Qwen3's byte-level BPE tokenizer, read from HuggingFace's tokenizer.json:
// added tokens (<|im_start|>, <think>, ...) matched in the raw text, then NFC,
// the file's Split regex, GPT-2's byte-to-character map and BPE by merge rank.
// Ids in the real vocabulary: <|endoftext|> 151643, <|im_start|> 151644.
#pragma once
#include <unicode/uversion.h>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

U_NAMESPACE_BEGIN
class RegexPattern;
U_NAMESPACE_END

namespace untwist {

struct Qwen3InputIds {
  std::vector<int64_t> ids;             // [max_length]
  std::vector<int64_t> attention_mask;  // [max_length] 1 for tokens, 0 for padding
};

class Qwen3Tokenizer {
 public:
  // `path`: tokenizer.json, or a folder holding it (diffusers' tokenizer/).
  // DataError naming the file when it is not a byte-level BPE tokenizer.json.
  static Qwen3Tokenizer load(const std::string& path);

  // The ids of the text, added tokens recognised, nothing added around it.
  std::vector<int64_t> encode(const std::string& text) const;
  // The FLUX.2 [klein] prompt: a user turn, then the assistant's turn with thinking left empty.
  static std::string chat_text(const std::string& prompt);
  std::vector<int64_t> chat_ids(const std::string& prompt) const { return encode(chat_text(prompt)); }
  // encode(text) cut to `max_length` and padded with <|endoftext|> up to it.
  Qwen3InputIds input_ids(const std::string& text, int64_t max_length) const;

  int64_t pad_id() const { return pad_id_; }

 private:
  struct AddedToken {
    std::string content;
    int64_t id = 0;
  };
  struct Merge {
    int32_t rank = 0;
    int32_t id = 0;  // the merged symbol
  };
  static uint64_t pair_key(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
  }
  // Ids of one pre-tokenized piece (UTF-8 bytes), appended to `out`.
  void bpe(const std::string& piece, std::vector<int64_t>& out) const;
  // Ids of text that holds no added token: NFC, split, BPE.
  void encode_plain(const std::string& text, std::vector<int64_t>& out) const;

  std::shared_ptr<const icu::RegexPattern> split_;
  bool nfc_ = false;
  std::vector<int32_t> byte_ids_;  // [256] the id of each byte's symbol
  std::unordered_map<uint64_t, Merge> merges_;  // by pair_key(left, right)
  std::vector<AddedToken> added_;
  int64_t pad_id_ = 0;
};

}  // namespace untwist
