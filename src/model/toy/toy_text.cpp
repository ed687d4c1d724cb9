#include "model/toy/toy_text.h"

#include <algorithm>
#include <cctype>
#include <sstream>

#include "util/errors.h"

namespace untwist::toy {

std::vector<int64_t> tokenize(const std::vector<std::string>& vocabulary, const std::string& prompt) {
  std::vector<int64_t> ids;
  std::istringstream stream(prompt);
  for (std::string word; stream >> word;) {
    for (char& c : word) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (word == "a" || word == "an" || word == "the") continue;
    const auto it = std::find(vocabulary.begin() + 1, vocabulary.end(), word);
    if (it == vocabulary.end()) {
      std::string known;
      for (size_t i = 1; i < vocabulary.size(); ++i) known += (i > 1 ? " " : "") + vocabulary[i];
      throw UsageError("the toy model has no word '" + word + "'; its vocabulary is: " + known);
    }
    ids.push_back(static_cast<int64_t>(it - vocabulary.begin()));
  }
  if (static_cast<int64_t>(ids.size()) > kMaxWords) {
    throw UsageError("toy prompts have at most " + std::to_string(kMaxWords) + " words: '" + prompt + "'");
  }
  ids.resize(static_cast<size_t>(kMaxWords), kPad);
  return ids;
}

at::Tensor tokenize_batch(const std::vector<std::string>& vocabulary, const std::vector<std::string>& prompts) {
  std::vector<int64_t> ids;
  for (const auto& prompt : prompts) {
    const auto row = tokenize(vocabulary, prompt);
    ids.insert(ids.end(), row.begin(), row.end());
  }
  return at::tensor(ids).reshape({static_cast<int64_t>(prompts.size()), kMaxWords});
}

TextConditioning encode_text(const TextEmbedding& embedding, const at::Tensor& ids) {
  const at::Tensor before = at::constant_pad_nd(ids.narrow(1, 0, ids.size(1) - 1), {1, 0}, kPad);  // [B, W]
  TextConditioning encoding;
  encoding.txt = at::embedding(embedding.word, ids) + at::embedding(embedding.previous, before);  // [B, W, width]
  const at::Tensor real = (ids != kPad).to(at::kFloat).unsqueeze(-1);      // [B, W, 1]
  encoding.y = (encoding.txt * real).sum(1) / real.sum(1).clamp_min(1.0);  // [B, width]
  return encoding;
}

TextConditioning encode_prompts(const ToyText& text, const std::vector<std::string>& prompts) {
  return encode_text(text.embedding, tokenize_batch(text.vocabulary, prompts));
}

}  // namespace untwist::toy
