#include "model/clip_tokenizer.h"

#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <zlib.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "io/file_bytes.h"
#include "model/text_cleanup.h"
#include "util/errors.h"

namespace untwist {

namespace {

const char* const kStart = "<|startoftext|>";
const char* const kEnd = "<|endoftext|>";
constexpr size_t kOpenAiMerges = 49152 - 256 - 2;

std::string utf8_of(UChar32 c) {
  std::string out;
  icu::UnicodeString(c).toUTF8String(out);
  return out;
}

// GPT-2's reversible map from bytes to printable characters: printable bytes
// stand for themselves, the others for 256, 257, ... in byte order. `order`
// lists the bytes as the reference vocabulary does: printable ones first.
struct ByteSymbols {
  std::vector<std::string> of_byte;  // [256]
  std::vector<int> order;            // [256] bytes in vocabulary order
};

const ByteSymbols& byte_symbols() {
  static const ByteSymbols symbols = [] {
    ByteSymbols s;
    s.of_byte.resize(256);
    std::vector<bool> printable(256, false);
    for (int b = '!'; b <= '~'; ++b) s.order.push_back(b);
    for (int b = 0xA1; b <= 0xAC; ++b) s.order.push_back(b);
    for (int b = 0xAE; b <= 0xFF; ++b) s.order.push_back(b);
    for (int b : s.order) s.of_byte[b] = utf8_of(b), printable[b] = true;
    int extra = 0;
    for (int b = 0; b < 256; ++b) {
      if (!printable[b]) {
        s.of_byte[b] = utf8_of(256 + extra++);
        s.order.push_back(b);
      }
    }
    return s;
  }();
  return symbols;
}

constexpr uint64_t kMaxTokenizerBytes = 64ull << 20;

std::string read_gzip(const std::string& path) {
  gzFile file = gzopen(path.c_str(), "rb");
  if (!file) fail_file(path, "cannot open");
  std::string data;
  char buffer[1 << 16];
  int read = 0;
  while (data.size() <= kMaxTokenizerBytes && (read = gzread(file, buffer, sizeof(buffer))) > 0) {
    data.append(buffer, static_cast<size_t>(read));
  }
  // gzclose reports a stream that ended early (Z_BUF_ERROR).
  const bool failed = read < 0 || gzclose(file) != Z_OK;
  if (failed) fail_file(path, "not a readable gzip file (truncated or corrupt)");
  if (data.size() > kMaxTokenizerBytes) fail_file(path, "unpacks to more than 64 MiB: not a CLIP merges file");
  return data;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  return lines;
}

std::pair<std::string, std::string> parse_merge(const std::string& line, const std::string& path, size_t number) {
  const size_t space = line.find(' ');
  if (space == std::string::npos || space == 0 || space + 1 >= line.size() ||
      line.find(' ', space + 1) != std::string::npos) {
    fail_file(path, "merge on line " + std::to_string(number) + " is not two symbols separated by a space");
  }
  return {line.substr(0, space), line.substr(space + 1)};
}

// The reference pattern on lower-cased text: special tokens, contractions,
// letter runs, single digits, runs of other non-space characters.
std::vector<std::string> pre_tokenize(const std::string& text) {
  const icu::UnicodeString u = icu::UnicodeString::fromUTF8(text);
  std::vector<std::string> pieces;
  auto is_letter = [](UChar32 c) { return (U_GET_GC_MASK(c) & U_GC_L_MASK) != 0; };
  auto is_number = [](UChar32 c) { return (U_GET_GC_MASK(c) & U_GC_N_MASK) != 0; };
  auto is_space = [](UChar32 c) { return u_isUWhiteSpace(c) || (c >= 0x1C && c <= 0x1F); };
  int32_t i = 0;
  while (i < u.length()) {
    const UChar32 c = u.char32At(i);
    if (is_space(c)) {
      i += U16_LENGTH(c);
      continue;
    }
    bool matched = false;
    for (const char* literal : {kStart, kEnd, "'s", "'t", "'re", "'ve", "'m", "'ll", "'d"}) {
      const icu::UnicodeString candidate = icu::UnicodeString::fromUTF8(literal);
      if (u.compare(i, candidate.length(), candidate) == 0) {
        pieces.push_back(literal);
        i += candidate.length();
        matched = true;
        break;
      }
    }
    if (matched) continue;
    int32_t end = i + U16_LENGTH(c);
    if (is_letter(c)) {
      while (end < u.length() && is_letter(u.char32At(end))) end += U16_LENGTH(u.char32At(end));
    } else if (!is_number(c)) {
      while (end < u.length()) {
        const UChar32 next = u.char32At(end);
        if (is_space(next) || is_letter(next) || is_number(next)) break;
        end += U16_LENGTH(next);
      }
    }
    std::string piece;
    u.tempSubStringBetween(i, end).toUTF8String(piece);
    pieces.push_back(piece);
    i = end;
  }
  return pieces;
}

}  // namespace

ClipTokenizer ClipTokenizer::load(const std::string& path) {
  namespace fs = std::filesystem;
  ClipTokenizer tokenizer;
  std::vector<std::pair<std::string, std::string>> merges;
  if (path.size() > 3 && path.compare(path.size() - 3, 3, ".gz") == 0) {
    const std::vector<std::string> lines = lines_of(read_gzip(path));
    if (lines.size() < kOpenAiMerges + 1) {
      fail_file(path, "holds " + std::to_string(lines.size()) + " lines; OpenAI's CLIP merges file has " +
                          std::to_string(kOpenAiMerges + 1) + " or more");
    }
    for (size_t n = 1; n <= kOpenAiMerges; ++n) merges.push_back(parse_merge(lines[n], path, n + 1));
    // vocabulary: the 256 byte symbols, the same with </w>, every merge, the two specials
    std::vector<std::string> vocab;
    for (int byte : byte_symbols().order) vocab.push_back(byte_symbols().of_byte[byte]);
    for (int byte : byte_symbols().order) vocab.push_back(byte_symbols().of_byte[byte] + "</w>");
    for (const auto& [first, second] : merges) vocab.push_back(first + second);
    vocab.push_back(kStart);
    vocab.push_back(kEnd);
    for (size_t id = 0; id < vocab.size(); ++id) tokenizer.encoder_[vocab[id]] = static_cast<int64_t>(id);
  } else {
    const fs::path folder = fs::is_directory(path) ? fs::path(path) : fs::path(path).parent_path();
    const std::string vocab_path = fs::is_directory(path) ? (folder / "vocab.json").string() : path;
    const std::string merges_path = (folder / "merges.txt").string();
    const auto vocab =
        nlohmann::json::parse(read_file_bytes(vocab_path, kMaxTokenizerBytes), nullptr, /*allow_exceptions=*/false);
    if (!vocab.is_object()) fail_file(vocab_path, "is not a JSON object of token ids (HuggingFace vocab.json)");
    for (auto it = vocab.begin(); it != vocab.end(); ++it) {
      if (!it.value().is_number_integer()) fail_file(vocab_path, "token '" + it.key() + "' has no integer id");
      tokenizer.encoder_[it.key()] = it.value().get<int64_t>();
    }
    const std::vector<std::string> lines = lines_of(read_file_bytes(merges_path, kMaxTokenizerBytes));
    for (size_t n = 0; n < lines.size(); ++n) {
      if (lines[n].empty() || lines[n][0] == '#') continue;
      merges.push_back(parse_merge(lines[n], merges_path, n + 1));
    }
  }
  for (size_t rank = 0; rank < merges.size(); ++rank) tokenizer.ranks_.emplace(merges[rank], static_cast<int>(rank));
  const auto start = tokenizer.encoder_.find(kStart), end = tokenizer.encoder_.find(kEnd);
  if (start == tokenizer.encoder_.end() || end == tokenizer.encoder_.end()) {
    fail_file(path, "vocabulary lacks <|startoftext|> or <|endoftext|>");
  }
  tokenizer.bos_ = start->second;
  tokenizer.eos_ = end->second;
  return tokenizer;
}

std::vector<std::string> ClipTokenizer::bpe(const std::string& word) const {
  // split into characters (UTF-8 sequences); the last one carries </w>
  std::vector<std::string> symbols;
  for (size_t i = 0; i < word.size();) {
    size_t length = 1;
    const unsigned char lead = static_cast<unsigned char>(word[i]);
    if (lead >= 0xF0) length = 4;
    else if (lead >= 0xE0) length = 3;
    else if (lead >= 0xC0) length = 2;
    symbols.push_back(word.substr(i, length));
    i += length;
  }
  if (symbols.empty()) return symbols;
  symbols.back() += "</w>";
  if (symbols.size() <= kMaxBpeSymbols) return merge_symbols(std::move(symbols));
  std::vector<std::string> merged;
  for (size_t begin = 0; begin < symbols.size(); begin += kMaxBpeSymbols) {
    const size_t end = std::min(symbols.size(), begin + kMaxBpeSymbols);
    const auto piece = merge_symbols({symbols.begin() + static_cast<std::ptrdiff_t>(begin),
                                      symbols.begin() + static_cast<std::ptrdiff_t>(end)});
    merged.insert(merged.end(), piece.begin(), piece.end());
  }
  return merged;
}

std::vector<std::string> ClipTokenizer::merge_symbols(std::vector<std::string> symbols) const {
  while (symbols.size() > 1) {
    int best_rank = -1;
    std::pair<std::string, std::string> best;
    for (size_t i = 0; i + 1 < symbols.size(); ++i) {
      const auto it = ranks_.find({symbols[i], symbols[i + 1]});
      if (it != ranks_.end() && (best_rank < 0 || it->second < best_rank)) {
        best_rank = it->second;
        best = it->first;
      }
    }
    if (best_rank < 0) break;
    std::vector<std::string> merged;
    for (size_t i = 0; i < symbols.size();) {
      if (i + 1 < symbols.size() && symbols[i] == best.first && symbols[i + 1] == best.second) {
        merged.push_back(best.first + best.second);
        i += 2;
      } else {
        merged.push_back(symbols[i++]);
      }
    }
    symbols = std::move(merged);
  }
  return symbols;
}

std::vector<int64_t> ClipTokenizer::encode(const std::string& text, size_t max_ids) const {
  std::vector<int64_t> ids;
  for (const std::string& piece : pre_tokenize(clip_clean_text(text))) {
    if (ids.size() >= max_ids) break;
    if (piece == kStart || piece == kEnd) {
      ids.push_back(piece == kStart ? bos_ : eos_);
      continue;
    }
    std::string mapped;
    for (unsigned char byte : piece) mapped += byte_symbols().of_byte[byte];
    for (const std::string& symbol : bpe(mapped)) {
      const auto it = encoder_.find(symbol);
      if (it == encoder_.end()) throw DataError("CLIP vocabulary has no token '" + symbol + "'");
      ids.push_back(it->second);
    }
  }
  return ids;
}

std::vector<int64_t> ClipTokenizer::input_ids(const std::string& text, int64_t max_length) const {
  if (max_length < 2) throw UsageError("CLIP max length must be at least 2");
  const std::vector<int64_t> bpe_ids = encode(text, static_cast<size_t>(max_length - 2));
  std::vector<int64_t> ids = {bos_};
  const size_t keep = std::min(bpe_ids.size(), static_cast<size_t>(max_length - 2));
  ids.insert(ids.end(), bpe_ids.begin(), bpe_ids.begin() + static_cast<std::ptrdiff_t>(keep));
  ids.push_back(eos_);
  ids.resize(static_cast<size_t>(max_length), eos_);
  return ids;
}

}  // namespace untwist
