// Reading a whole file that a user handed us, with a size limit so that a
// huge or endless file fails cleanly instead of exhausting memory.
#pragma once
#include <cstdint>
#include <string>

namespace untwist {

// The file's bytes; DataError naming the file when it cannot be opened or read,
// or holds more than `max_bytes`.
std::string read_file_bytes(const std::string& path, uint64_t max_bytes);

}  // namespace untwist
