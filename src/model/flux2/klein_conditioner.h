// FLUX.2 [klein]'s text conditioning: the prompt in Qwen3's chat template
// (thinking off), padded with <|endoftext|> to 512 tokens (padding masked as
// keys), the hidden states of layers 9, 18 and 27 stacked on channels; all
// 512 positions go to the transformer. No pooled vector.
#pragma once
#include <string>
#include <vector>

#include "model/qwen3_conditioner.h"

namespace untwist {

class KleinConditioner : public Qwen3Conditioner {
 public:
  static constexpr int64_t kMaxLength = 512;
  static const std::vector<int64_t>& output_layers();

  // Checks the encoder fits the transformer (3 x its width = context_in_dim;
  // DataError naming the file) and, unless low_memory, loads it; with
  // low_memory it exists only while it encodes.
  KleinConditioner(Qwen3TextFiles files, int64_t context_in_dim, bool low_memory);
  TextConditioning encode(const std::vector<std::string>& prompts) override;

 private:
  std::vector<int64_t> layers_for(const Qwen3Config& config) const override;

  int64_t context_in_dim_;
  std::string text_encoder_;
};

}  // namespace untwist
