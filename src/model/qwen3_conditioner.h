// What the Qwen3-based text conditioners (FLUX.2 [klein], Z-Image) share:
// their files, the tokenizer, prompts tokenized in a chat template, and the
// encoder checked against the transformer at start and, under low memory,
// held only while it encodes.
#pragma once
#include <ATen/ATen.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "model/qwen3_text.h"
#include "model/qwen3_tokenizer.h"
#include "model/text_conditioner.h"

namespace untwist {

struct Qwen3TextFiles {
  std::string text_encoder;  // Qwen3 weights: a file or a diffusers text_encoder/ folder
  std::string tokenizer;     // tokenizer.json or a folder holding it
};

class Qwen3Conditioner : public TextConditioner {
 protected:
  Qwen3Conditioner(Qwen3TextFiles files, bool low_memory);

  // The layers whose hidden states the family reads, after checking that
  // the encoder fits the transformer (DataError naming the file).
  virtual std::vector<int64_t> layers_for(const Qwen3Config& config) const = 0;
  // Checks the encoder and, unless under low memory, loads it: the last step
  // of a family's constructor.
  void check_encoder();

  // ids and attention mask [B, max_length] of the prompts, each in `chat`'s template.
  std::pair<at::Tensor, at::Tensor> tokenize(const std::vector<std::string>& prompts,
                                             const std::function<std::string(const std::string&)>& chat,
                                             int64_t max_length) const;
  // Runs `encode` on the encoder (loaded when absent); its output checked
  // finite (DataError naming the file); under low memory the encoder goes.
  at::Tensor with_encoder(const std::function<at::Tensor(const Qwen3TextEncoder&)>& encode);

 private:
  void load_encoder(bool check_only);

  Qwen3TextFiles files_;
  bool low_memory_;
  Qwen3Tokenizer tokenizer_;
  std::unique_ptr<Qwen3TextEncoder> encoder_;
};

}  // namespace untwist
