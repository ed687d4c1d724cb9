// Errors a person can act on. A DataError is about a file or its contents
// (exit status 1); a UsageError is about how the tool was called (exit status 2).
#pragma once
#include <stdexcept>
#include <cstdint>
#include <string>
#include <vector>

namespace untwist {

class DataError : public std::runtime_error {
 public:
  explicit DataError(const std::string& message) : std::runtime_error(message) {}
};

// An input tensor (not a file) that does not fit the model: wrong shape, ids
// outside the vocabulary. Runners reading inputs from a file add its name.
class InputError : public DataError {
 public:
  explicit InputError(const std::string& message) : DataError(message) {}
};

class UsageError : public std::runtime_error {
 public:
  explicit UsageError(const std::string& message) : std::runtime_error(message) {}
};

// "file: what" — the common prefix of every data error about a file.
[[noreturn]] void fail_file(const std::string& path, const std::string& what);

// Formats a shape as "[2, 3, 4]" for messages.
std::string shape_string(const std::vector<int64_t>& shape);

}  // namespace untwist
