#include "model/qwen3_tokenizer.h"

#include <unicode/normalizer2.h>
#include <unicode/regex.h>
#include <unicode/unistr.h>
#include <unicode/utf8.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <queue>

#include "io/file_bytes.h"
#include "model/text_cleanup.h"
#include "util/errors.h"

namespace untwist {

namespace {

constexpr uint64_t kMaxTokenizerBytes = 64ull << 20;
const char* const kPadToken = "<|endoftext|>";

// GPT-2's reversible map from bytes to printable characters: printable bytes
// stand for themselves, the others for U+0100, U+0101, ... in byte order.
std::vector<std::string> byte_symbols() {
  std::vector<std::string> symbols(256);
  int next_extra = 256;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
    const UChar32 c = printable ? b : next_extra++;
    uint8_t utf8[4];
    int32_t length = 0;
    U8_APPEND_UNSAFE(utf8, length, c);
    symbols[b].assign(reinterpret_cast<const char*>(utf8), static_cast<size_t>(length));
  }
  return symbols;
}

const nlohmann::json& member(const nlohmann::json& object, const char* key, const std::string& where,
                             const std::string& path) {
  if (!object.is_object() || !object.contains(key)) fail_file(path, "missing " + where + key);
  return object[key];
}

std::string type_of(const nlohmann::json& object) {
  return object.is_object() && object.contains("type") && object["type"].is_string() ? object["type"].get<std::string>()
                                                                                      : "";
}

// The Split regex of the pre-tokenizer: a Sequence of Split (Isolated) and
// ByteLevel without its own regex and prefix space, as Qwen's files have.
std::string split_pattern(const nlohmann::json& pre_tokenizer, const std::string& path) {
  const std::string expected = "a Sequence of Split (Isolated, Regex) and ByteLevel (no prefix space, no regex)";
  if (type_of(pre_tokenizer) != "Sequence" || !pre_tokenizer.contains("pretokenizers") ||
      !pre_tokenizer["pretokenizers"].is_array() || pre_tokenizer["pretokenizers"].size() != 2) {
    fail_file(path, "pre_tokenizer is not " + expected);
  }
  const nlohmann::json& split = pre_tokenizer["pretokenizers"][0];
  const nlohmann::json& byte_level = pre_tokenizer["pretokenizers"][1];
  const bool split_ok = type_of(split) == "Split" && split.value("behavior", "") == "Isolated" &&
                        !split.value("invert", false) && split.contains("pattern") && split["pattern"].is_object() &&
                        split["pattern"].contains("Regex") && split["pattern"]["Regex"].is_string();
  const bool byte_level_ok = type_of(byte_level) == "ByteLevel" && !byte_level.value("add_prefix_space", true) &&
                             !byte_level.value("use_regex", true);
  if (!split_ok || !byte_level_ok) fail_file(path, "pre_tokenizer is not " + expected);
  return split["pattern"]["Regex"].get<std::string>();
}

std::pair<std::string, std::string> merge_pair(const nlohmann::json& merge, size_t index, const std::string& path) {
  const std::string where = "model.merges[" + std::to_string(index) + "]";
  if (merge.is_array() && merge.size() == 2 && merge[0].is_string() && merge[1].is_string()) {
    return {merge[0].get<std::string>(), merge[1].get<std::string>()};
  }
  if (merge.is_string()) {
    const std::string text = merge.get<std::string>();
    const size_t space = text.find(' ');
    if (space != std::string::npos && space > 0 && space + 1 < text.size() &&
        text.find(' ', space + 1) == std::string::npos) {
      return {text.substr(0, space), text.substr(space + 1)};
    }
  }
  fail_file(path, where + " is not two symbols (\"a b\" or [\"a\", \"b\"]): " + merge.dump());
}

const icu::Normalizer2& nfc() {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* normalizer = icu::Normalizer2::getNFCInstance(status);
  if (U_FAILURE(status)) throw std::runtime_error("ICU has no NFC normalizer");
  return *normalizer;
}

// model.vocab: token -> id, every id a non-negative int32.
std::unordered_map<std::string, int32_t> read_vocab(const nlohmann::json& vocab_json, const std::string& path) {
  std::unordered_map<std::string, int32_t> vocab;
  vocab.reserve(vocab_json.size());
  for (const auto& [token, id] : vocab_json.items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT32_MAX) {
      fail_file(path, "model.vocab[\"" + token + "\"] is " + id.dump() + ", expected a non-negative integer id");
    }
    vocab.emplace(token, id.get<int32_t>());
  }
  return vocab;
}

// added_tokens as (content, id); DataError for options this tokenizer does not implement.
std::vector<std::pair<std::string, int64_t>> read_added_tokens(const nlohmann::json& root, const std::string& path) {
  std::vector<std::pair<std::string, int64_t>> added;
  if (!root.contains("added_tokens") || root["added_tokens"].is_null()) return added;
  if (!root["added_tokens"].is_array()) fail_file(path, "added_tokens is not an array");
  for (const auto& token : root["added_tokens"]) {
    if (!token.is_object() || !token.contains("content") || !token["content"].is_string() ||
        token["content"].get<std::string>().empty() || !token.contains("id") || !token["id"].is_number_integer()) {
      fail_file(path, "added token " + token.dump() + " lacks a non-empty content or an integer id");
    }
    if (token.value("lstrip", false) || token.value("rstrip", false) || token.value("single_word", false)) {
      fail_file(path, "added token " + token["content"].get<std::string>() +
                          " uses lstrip, rstrip or single_word, which are not supported");
    }
    added.emplace_back(token["content"].get<std::string>(), token["id"].get<int64_t>());
  }
  return added;
}

}  // namespace

Qwen3Tokenizer Qwen3Tokenizer::load(const std::string& given) {
  const std::string path =
      std::filesystem::is_directory(given) ? (std::filesystem::path(given) / "tokenizer.json").string() : given;
  const nlohmann::json root = nlohmann::json::parse(read_file_bytes(path, kMaxTokenizerBytes), nullptr, false);
  if (root.is_discarded() || !root.is_object()) {
    fail_file(path, "not a JSON object (expected HuggingFace tokenizer.json)");
  }

  Qwen3Tokenizer tokenizer;
  const nlohmann::json& model = member(root, "model", "", path);
  if (type_of(model) != "BPE") {
    fail_file(path, "model.type is \"" + type_of(model) + "\", expected \"BPE\"");
  }
  const nlohmann::json& vocab_json = member(model, "vocab", "model.", path);
  const nlohmann::json& merges_json = member(model, "merges", "model.", path);
  if (!vocab_json.is_object()) fail_file(path, "model.vocab is not an object of token: id");
  if (!merges_json.is_array()) fail_file(path, "model.merges is not an array");

  const std::unordered_map<std::string, int32_t> vocab = read_vocab(vocab_json, path);

  const std::vector<std::string> symbols = byte_symbols();
  tokenizer.byte_ids_.resize(256);
  for (int b = 0; b < 256; ++b) {
    const auto it = vocab.find(symbols[b]);
    if (it == vocab.end()) {
      fail_file(path, "model.vocab lacks the symbol of byte " + std::to_string(b) + " (\"" + symbols[b] + "\")");
    }
    tokenizer.byte_ids_[b] = it->second;
  }

  tokenizer.merges_.reserve(merges_json.size());
  for (size_t i = 0; i < merges_json.size(); ++i) {
    const auto [left, right] = merge_pair(merges_json[i], i, path);
    const auto l = vocab.find(left), r = vocab.find(right), merged = vocab.find(left + right);
    if (l == vocab.end() || r == vocab.end() || merged == vocab.end()) {
      fail_file(path, "model.merges[" + std::to_string(i) + "] \"" + left + " " + right +
                          "\" has a symbol not in model.vocab");
    }
    tokenizer.merges_[pair_key(l->second, r->second)] = Merge{static_cast<int32_t>(i), merged->second};
  }

  for (const auto& [content, id] : read_added_tokens(root, path)) tokenizer.added_.push_back({content, id});

  const auto pad_added = std::find_if(tokenizer.added_.begin(), tokenizer.added_.end(),
                                      [](const AddedToken& t) { return t.content == kPadToken; });
  const auto pad_vocab = vocab.find(kPadToken);
  if (pad_added == tokenizer.added_.end() && pad_vocab == vocab.end()) {
    fail_file(path, std::string("has no ") + kPadToken + " token to pad with");
  }
  tokenizer.pad_id_ = pad_added != tokenizer.added_.end() ? pad_added->id : pad_vocab->second;

  const nlohmann::json normalizer = root.value("normalizer", nlohmann::json());
  if (!normalizer.is_null() && type_of(normalizer) != "NFC") {
    fail_file(path, "normalizer " + normalizer.dump() + " is not supported (expected NFC or null)");
  }
  tokenizer.nfc_ = !normalizer.is_null();

  const std::string pattern = split_pattern(member(root, "pre_tokenizer", "", path), path);
  UParseError parse_error;
  UErrorCode status = U_ZERO_ERROR;
  tokenizer.split_.reset(icu::RegexPattern::compile(icu::UnicodeString::fromUTF8(pattern), 0, parse_error, status));
  if (U_FAILURE(status)) {
    fail_file(path, "the Split regex " + pattern + " does not compile (" + u_errorName(status) + " at offset " +
                        std::to_string(parse_error.offset) + ")");
  }
  return tokenizer;
}

std::string Qwen3Tokenizer::chat_text(const std::string& prompt) {
  return "<|im_start|>user\n" + prompt + "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n";
}

std::vector<int64_t> Qwen3Tokenizer::encode(const std::string& text) const {
  const std::string problem = utf8_problem(text);
  if (!problem.empty()) throw DataError("text is " + problem);
  std::vector<int64_t> ids;
  size_t start = 0;
  while (start < text.size()) {
    // The leftmost added token from `start`, the longest one where several begin there.
    size_t found = std::string::npos;
    const AddedToken* token = nullptr;
    for (const AddedToken& candidate : added_) {
      const size_t at = text.find(candidate.content, start);
      if (at < found || (at == found && at != std::string::npos && candidate.content.size() > token->content.size())) {
        found = at;
        token = &candidate;
      }
    }
    if (!token) found = text.size();
    encode_plain(text.substr(start, found - start), ids);
    if (!token) break;
    ids.push_back(token->id);
    start = found + token->content.size();
  }
  return ids;
}

void Qwen3Tokenizer::encode_plain(const std::string& text, std::vector<int64_t>& out) const {
  if (text.empty()) return;
  icu::UnicodeString u = icu::UnicodeString::fromUTF8(text);
  UErrorCode status = U_ZERO_ERROR;
  if (nfc_) u = nfc().normalize(u, status);
  std::unique_ptr<icu::RegexMatcher> matcher(split_->matcher(u, status));
  if (U_FAILURE(status)) throw std::runtime_error(std::string("ICU could not split the text: ") + u_errorName(status));
  // Isolated: every match is a piece, and so is the text between matches.
  auto emit = [&](int32_t begin, int32_t end) {
    if (end <= begin) return;
    std::string piece;
    u.tempSubStringBetween(begin, end).toUTF8String(piece);
    bpe(piece, out);
  };
  int32_t last = 0;
  while (matcher->find(status) && U_SUCCESS(status)) {
    const int32_t begin = matcher->start(status), end = matcher->end(status);
    emit(last, begin);
    emit(begin, end);
    last = end;
  }
  if (U_FAILURE(status)) throw std::runtime_error(std::string("ICU could not split the text: ") + u_errorName(status));
  emit(last, u.length());
}

void Qwen3Tokenizer::bpe(const std::string& piece, std::vector<int64_t>& out) const {
  // Symbols in a linked list; a removed symbol has id -1. Candidate merges in a
  // queue by (rank, position): the best-ranked pair merges first, leftmost on ties.
  struct Symbol {
    int32_t id, prev, next;
  };
  struct Candidate {
    int32_t rank, left, left_id, right_id, merged_id;
    bool operator>(const Candidate& other) const {
      return rank != other.rank ? rank > other.rank : left > other.left;
    }
  };
  const int32_t n = static_cast<int32_t>(piece.size());
  std::vector<Symbol> symbols(piece.size());
  for (int32_t i = 0; i < n; ++i) {
    symbols[i] = {byte_ids_[static_cast<uint8_t>(piece[i])], i - 1, i + 1 < n ? i + 1 : -1};
  }
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> queue;
  auto consider = [&](int32_t left) {
    const int32_t right = symbols[left].next;
    if (right < 0) return;
    const auto it = merges_.find(pair_key(symbols[left].id, symbols[right].id));
    if (it != merges_.end()) {
      queue.push({it->second.rank, left, symbols[left].id, symbols[right].id, it->second.id});
    }
  };
  for (int32_t i = 0; i + 1 < n; ++i) consider(i);
  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    Symbol& left = symbols[top.left];
    if (left.id != top.left_id || left.next < 0 || symbols[left.next].id != top.right_id) continue;  // stale
    Symbol& right = symbols[left.next];
    left.id = top.merged_id;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = top.left;
    right.id = -1;
    if (left.prev >= 0) consider(left.prev);
    consider(top.left);
  }
  for (int32_t i = n ? 0 : -1; i >= 0; i = symbols[i].next) out.push_back(symbols[i].id);
}

Qwen3InputIds Qwen3Tokenizer::input_ids(const std::string& text, int64_t max_length) const {
  if (max_length < 1) throw UsageError("the padded length must be at least 1, got " + std::to_string(max_length));
  Qwen3InputIds result;
  result.ids = encode(text);
  if (static_cast<int64_t>(result.ids.size()) > max_length) result.ids.resize(static_cast<size_t>(max_length));
  result.attention_mask.assign(result.ids.size(), 1);
  result.ids.resize(static_cast<size_t>(max_length), pad_id_);            // [max_length]
  result.attention_mask.resize(static_cast<size_t>(max_length), 0);       // [max_length]
  return result;
}

}  // namespace untwist
