// The toy model's text side: a vocabulary of whole words and a learned
// embedding per word plus a learned embedding of the word before it, so that
// "red square on blue" and "blue square on red" differ (the DiT gives text
// tokens no positions). The embedded words stand in for the T5 sequence; their
// mean (over real words) stands in for CLIP's pooled vector.
#pragma once
#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "model/text_conditioner.h"

namespace untwist::toy {

constexpr int64_t kMaxWords = 8;  // longest prompt: "striped red circle bottom right on blue" and one to spare
constexpr int64_t kPad = 0;       // the vocabulary's first entry, "<pad>"

// Word ids in `vocabulary` (entry kPad "<pad>"), lower-cased, padded to
// kMaxWords; the articles "a", "an" and "the" are skipped (they name nothing
// in the toy world, and its prompts have none). UsageError naming a word the
// vocabulary lacks (and listing the vocabulary) or a prompt of more than
// kMaxWords words.
std::vector<int64_t> tokenize(const std::vector<std::string>& vocabulary, const std::string& prompt);
at::Tensor tokenize_batch(const std::vector<std::string>& vocabulary,
                          const std::vector<std::string>& prompts);  // [B, kMaxWords] int64

struct TextEmbedding {
  at::Tensor word;      // [vocabulary size, width]
  at::Tensor previous;  // [vocabulary size, width]: added for the word before (<pad> before the first)
};

// ids [B, kMaxWords] -> txt [B, kMaxWords, width] and y [B, width], the mean
// over the real words (zeros for the empty prompt); no mask: the model was
// trained attending to the padding.
TextConditioning encode_text(const TextEmbedding& embedding, const at::Tensor& ids);

// A toy checkpoint's text side.
struct ToyText {
  std::vector<std::string> vocabulary;  // "<pad>" first
  TextEmbedding embedding;
};

// Prompts to the transformer's text states: tokenized in the vocabulary and
// embedded. The one path from prompts to text of the toy's own sampler and of
// the pipeline's toy conditioner.
TextConditioning encode_prompts(const ToyText& text, const std::vector<std::string>& prompts);

}  // namespace untwist::toy
