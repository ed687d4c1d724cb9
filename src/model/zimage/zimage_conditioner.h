// Z-Image's text conditioning: the prompt in Qwen3's chat template with
// thinking on (a user turn, then the assistant's turn left open, no empty
// think block), the hidden states of the second-to-last layer (HuggingFace's
// hidden_states[-2]: decoder layer num_layers - 1, before the final norm),
// and only each prompt's real tokens for the transformer: captions right-
// padded to the longest with a mask of their real tokens. No pooled vector.
#pragma once
#include <string>
#include <vector>

#include "model/qwen3_conditioner.h"

namespace untwist {

class ZImageConditioner : public Qwen3Conditioner {
 public:
  // The reference cuts prompts at 512 tokens.
  static constexpr int64_t kMaxLength = 512;
  static std::string chat_text(const std::string& prompt);

  // Checks the encoder's width is the transformer's caption width
  // (DataError naming the file) and, unless low_memory, loads it; with
  // low_memory it exists only while it encodes.
  ZImageConditioner(Qwen3TextFiles files, int64_t cap_feat_dim, bool low_memory);
  TextConditioning encode(const std::vector<std::string>& prompts) override;

 private:
  std::vector<int64_t> layers_for(const Qwen3Config& config) const override;

  int64_t cap_feat_dim_;
  std::string text_encoder_;
};

}  // namespace untwist
