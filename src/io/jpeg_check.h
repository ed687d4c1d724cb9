// A structural check of JPEG files before they reach the decoder: stb_image
// (v2.27, as Debian ships it) writes past its Huffman tables when a DHT
// segment declares more than 256 codes.
#pragma once
#include <string>

namespace untwist {

// Whether a decoder takes `bytes` for a JPEG: a start-of-image marker,
// possibly after 0xFF fill bytes.
bool looks_like_jpeg(const std::string& bytes);

// Empty when every Huffman table in `bytes` (a JPEG file) is well formed,
// else what is wrong with the first that is not.
std::string jpeg_structure_problem(const std::string& bytes);

}  // namespace untwist
