// What a family's text side gives its transformer: prompts to context tokens
// (and a pooled vector where the family has one).
#pragma once
#include <ATen/ATen.h>

#include <string>
#include <vector>

namespace untwist {

struct TextConditioning {
  at::Tensor txt;   // [B, L, context]
  at::Tensor mask;  // [B, L] bool: each row's real tokens (right padding after them); undefined: all
  at::Tensor y;     // [B, vec], or undefined for families without a pooled vector
};

// Row `row` of a batch of conditionings, as a batch of one.
inline TextConditioning text_row(const TextConditioning& text, int64_t row) {
  const auto one = [row](const at::Tensor& x) { return x.defined() ? x.narrow(0, row, 1) : x; };
  return {one(text.txt), one(text.mask), one(text.y)};
}

class TextConditioner {
 public:
  virtual ~TextConditioner() = default;
  // DataError naming the encoder's file when its output is not finite.
  virtual TextConditioning encode(const std::vector<std::string>& prompts) = 0;
};

}  // namespace untwist
