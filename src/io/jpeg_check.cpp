#include "io/jpeg_check.h"

#include <algorithm>
#include <cstdint>

namespace untwist {

namespace {

constexpr uint8_t kHuffmanTable = 0xC4, kStartOfScan = 0xDA, kEndOfImage = 0xD9;

bool is_restart(uint8_t marker) { return marker >= 0xD0 && marker <= 0xD7; }

// The tables of one DHT segment: class/id byte, 16 code counts, the symbols.
std::string huffman_segment_problem(const std::string& bytes, size_t begin, size_t end) {
  const auto byte = [&](size_t at) { return static_cast<uint8_t>(bytes[at]); };
  size_t at = begin;
  while (at < end) {
    if (at + 17 > end) return "a Huffman table is cut short";
    int codes = 0;
    for (size_t i = 1; i <= 16; ++i) codes += byte(at + i);
    if (codes > 256) return "a Huffman table declares " + std::to_string(codes) + " codes (at most 256)";
    at += 17 + static_cast<size_t>(codes);
  }
  return "";
}

// Where the bytes after the start-of-image marker begin, as decoders find it
// (0xFF fill bytes may come first); 0 when the file does not start with one.
size_t after_start_of_image(const std::string& bytes) {
  size_t at = 0;
  while (at < bytes.size() && static_cast<uint8_t>(bytes[at]) == 0xFF) ++at;
  return at >= 1 && at < bytes.size() && static_cast<uint8_t>(bytes[at]) == 0xD8 ? at + 1 : 0;
}

}  // namespace

bool looks_like_jpeg(const std::string& bytes) { return after_start_of_image(bytes) != 0; }

std::string jpeg_structure_problem(const std::string& bytes) {
  const auto byte = [&](size_t at) { return static_cast<uint8_t>(bytes[at]); };
  size_t at = after_start_of_image(bytes);
  if (at == 0) return "";
  while (at + 1 < bytes.size()) {
    if (byte(at) != 0xFF) {  // stray bytes between segments: decoders skip them to the next marker
      ++at;
      continue;
    }
    const uint8_t marker = byte(at + 1);
    if (marker == 0xFF) {  // fill byte
      ++at;
      continue;
    }
    if (marker == kEndOfImage) return "";
    if (is_restart(marker) || marker == 0x01) {
      at += 2;
      continue;
    }
    if (at + 4 > bytes.size()) return "";
    const size_t length = (static_cast<size_t>(byte(at + 2)) << 8) | byte(at + 3);
    const size_t end = std::min(bytes.size(), at + 2 + length);
    if (marker == kHuffmanTable) {
      const std::string problem = huffman_segment_problem(bytes, at + 4, end);
      if (!problem.empty()) return problem;
    }
    at = end;
    if (marker == kStartOfScan) {  // skip the entropy-coded data up to the next marker
      while (at + 1 < bytes.size() && !(byte(at) == 0xFF && byte(at + 1) != 0 && !is_restart(byte(at + 1)))) ++at;
    }
  }
  return "";
}

}  // namespace untwist
