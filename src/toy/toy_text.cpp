#include "toy/toy_text.h"

#include <sstream>

#include "toy/world.h"
#include "util/errors.h"

namespace untwist::toy {

const std::vector<std::string>& vocabulary() {
  static const std::vector<std::string> words = [] {
    std::vector<std::string> v = {"<pad>"};
    for (const auto* list : {&shape_names(), &colour_names(), &texture_names()}) v.insert(v.end(), list->begin(), list->end());
    v.push_back("on");
    return v;
  }();
  return words;
}

std::vector<int64_t> tokenize(const std::string& prompt) {
  std::vector<int64_t> ids;
  std::istringstream stream(prompt);
  for (std::string word; stream >> word;) {
    for (char& c : word) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const auto& words = vocabulary();
    const auto it = std::find(words.begin() + 1, words.end(), word);
    if (it == words.end()) {
      std::string known;
      for (size_t i = 1; i < words.size(); ++i) known += (i > 1 ? " " : "") + words[i];
      throw UsageError("the toy world has no word '" + word + "'; it knows: " + known);
    }
    ids.push_back(static_cast<int64_t>(it - words.begin()));
  }
  if (static_cast<int64_t>(ids.size()) > kMaxWords) {
    throw UsageError("toy prompts have at most " + std::to_string(kMaxWords) + " words: '" + prompt + "'");
  }
  ids.resize(static_cast<size_t>(kMaxWords), kPad);
  return ids;
}

at::Tensor tokenize_batch(const std::vector<std::string>& prompts) {
  std::vector<int64_t> ids;
  for (const auto& prompt : prompts) {
    const auto row = tokenize(prompt);
    ids.insert(ids.end(), row.begin(), row.end());
  }
  return at::tensor(ids).reshape({static_cast<int64_t>(prompts.size()), kMaxWords});
}

TextEncoding encode_text(const TextEmbedding& embedding, const at::Tensor& ids) {
  const at::Tensor before = at::constant_pad_nd(ids.narrow(1, 0, ids.size(1) - 1), {1, 0}, kPad);  // [B, W]
  TextEncoding encoding;
  encoding.txt = at::embedding(embedding.word, ids) + at::embedding(embedding.previous, before);  // [B, W, width]
  const at::Tensor real = (ids != kPad).to(at::kFloat).unsqueeze(-1);      // [B, W, 1]
  encoding.y = (encoding.txt * real).sum(1) / real.sum(1).clamp_min(1.0);  // [B, width]
  return encoding;
}

}  // namespace untwist::toy
