// The toy family's text conditioner: prompts in the checkpoint's vocabulary
// through its word embedding (toy_text.h), on the CPU.
#pragma once
#include <utility>

#include "model/text_conditioner.h"
#include "model/toy/toy_text.h"

namespace untwist::toy {

class ToyConditioner : public TextConditioner {
 public:
  explicit ToyConditioner(ToyText text) : text_(std::move(text)) {}
  // UsageError naming a word the vocabulary lacks.
  TextConditioning encode(const std::vector<std::string>& prompts) override { return encode_prompts(text_, prompts); }

 private:
  ToyText text_;
};

}  // namespace untwist::toy
