// The toy model's text side: the world's vocabulary and a learned embedding
// per word plus a learned embedding of the word before it, so that "red square
// on blue" and "blue square on red" differ (the DiT gives text tokens no
// positions). The embedded words stand in for the T5 sequence; their mean
// (over real words) stands in for CLIP's pooled vector.
#pragma once
#include <ATen/ATen.h>

#include <string>
#include <vector>

namespace untwist::toy {

constexpr int64_t kMaxWords = 8;  // longest prompt: "striped red circle on blue" and room to spare
constexpr int64_t kPad = 0;

// "<pad>", then every shape, colour and texture word, then "on".
const std::vector<std::string>& vocabulary();

// Word ids padded to kMaxWords; UsageError naming an unknown word.
std::vector<int64_t> tokenize(const std::string& prompt);
at::Tensor tokenize_batch(const std::vector<std::string>& prompts);  // [B, kMaxWords] int64

struct TextEncoding {
  at::Tensor txt;  // [B, kMaxWords, width]
  at::Tensor y;    // [B, width]: mean over the real words (zeros for the empty prompt)
};

struct TextEmbedding {
  at::Tensor word;      // [vocabulary size, width]
  at::Tensor previous;  // [vocabulary size, width]: added for the word before (<pad> before the first)
};

// ids: [B, kMaxWords]
TextEncoding encode_text(const TextEmbedding& embedding, const at::Tensor& ids);

}  // namespace untwist::toy
