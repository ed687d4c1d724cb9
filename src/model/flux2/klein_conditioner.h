// FLUX.2 [klein]'s text conditioning: the prompt in Qwen3's chat template
// (thinking off), padded with <|endoftext|> to 512 tokens (padding masked as
// keys), the hidden states of layers 9, 18 and 27 stacked on channels; all
// 512 positions go to the transformer. No pooled vector.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "model/qwen3_text.h"
#include "model/qwen3_tokenizer.h"
#include "model/text_conditioner.h"

namespace untwist {

struct KleinTextFiles {
  std::string text_encoder;  // Qwen3 weights: a file or a diffusers text_encoder/ folder
  std::string tokenizer;     // tokenizer.json or a folder holding it
};

class KleinConditioner : public TextConditioner {
 public:
  static constexpr int64_t kMaxLength = 512;
  static const std::vector<int64_t>& output_layers();

  // Checks the encoder fits the transformer (3 x its width = context_in_dim;
  // DataError naming the file) and, unless low_memory, loads it; with
  // low_memory it exists only while it encodes.
  KleinConditioner(KleinTextFiles files, int64_t context_in_dim, bool low_memory);
  TextConditioning encode(const std::vector<std::string>& prompts) override;

 private:
  void load_encoder(bool check_only);

  KleinTextFiles files_;
  int64_t context_in_dim_;
  bool low_memory_;
  Qwen3Tokenizer tokenizer_;
  std::unique_ptr<Qwen3TextEncoder> encoder_;
};

}  // namespace untwist
