// Z-Image's text conditioning: the prompt in Qwen3's chat template with
// thinking on (a user turn, then the assistant's turn left open, no empty
// think block), the hidden states of the second-to-last layer (HuggingFace's
// hidden_states[-2]: decoder layer num_layers - 1, before the final norm),
// and only each prompt's real tokens for the transformer: captions right-
// padded to the longest with a mask of their real tokens. No pooled vector.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "model/qwen3_text.h"
#include "model/qwen3_tokenizer.h"
#include "model/text_conditioner.h"

namespace untwist {

struct ZImageTextFiles {
  std::string text_encoder;  // Qwen3 weights: a file or a diffusers text_encoder/ folder
  std::string tokenizer;     // tokenizer.json or a folder holding it
};

class ZImageConditioner : public TextConditioner {
 public:
  // The reference cuts prompts at 512 tokens.
  static constexpr int64_t kMaxLength = 512;
  static std::string chat_text(const std::string& prompt);

  // Checks the encoder's width is the transformer's caption width
  // (DataError naming the file) and, unless low_memory, loads it; with
  // low_memory it exists only while it encodes.
  ZImageConditioner(ZImageTextFiles files, int64_t cap_feat_dim, bool low_memory);
  TextConditioning encode(const std::vector<std::string>& prompts) override;

 private:
  void load_encoder(bool check_only);

  ZImageTextFiles files_;
  int64_t cap_feat_dim_;
  bool low_memory_;
  Qwen3Tokenizer tokenizer_;
  std::unique_ptr<Qwen3TextEncoder> encoder_;
};

}  // namespace untwist
