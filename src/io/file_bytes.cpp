#include "io/file_bytes.h"

#include <filesystem>
#include <fstream>

#include "util/errors.h"

namespace untwist {

std::string read_file_bytes(const std::string& path, uint64_t max_bytes) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) fail_file(path, "not a regular file");
  std::ifstream in(path, std::ios::binary);
  if (!in) fail_file(path, "cannot open");
  std::string bytes;
  char buffer[1 << 16];
  while (in.read(buffer, sizeof(buffer)) || in.gcount() > 0) {
    bytes.append(buffer, static_cast<size_t>(in.gcount()));
    if (bytes.size() > max_bytes) {
      fail_file(path, "larger than the " + std::to_string(max_bytes >> 20) + " MiB this kind of file may have");
    }
  }
  if (in.bad()) fail_file(path, "read error");
  return bytes;
}

}  // namespace untwist
