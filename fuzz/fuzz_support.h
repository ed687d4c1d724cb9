// Helpers shared by the fuzz targets.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace untwist::fuzz {

// Writes the bytes to an in-memory file and returns a path that opens it, so
// that readers taking a path see exactly these bytes. The file is replaced on
// the next call.
std::string as_file(const uint8_t* data, size_t size);

}  // namespace untwist::fuzz
