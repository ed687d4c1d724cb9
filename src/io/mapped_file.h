// A read-only private mapping of a whole file, unmapped when the last user goes.
#pragma once
#include <cstdint>
#include <string>

namespace untwist {

class MappedFile {
 public:
  // DataError naming the file when it cannot be opened, is not a regular file
  // or cannot be mapped.
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* bytes() const { return bytes_; }
  uint64_t size() const { return size_; }

 private:
  const uint8_t* bytes_ = nullptr;
  uint64_t size_ = 0;
};

}  // namespace untwist
