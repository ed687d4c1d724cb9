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

}  // namespace

std::string jpeg_structure_problem(const std::string& bytes) {
  const auto byte = [&](size_t at) { return static_cast<uint8_t>(bytes[at]); };
  size_t at = 2;  // after the start-of-image marker
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
