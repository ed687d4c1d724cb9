#include "util/errors.h"

#include <sstream>
#include <vector>

namespace untwist {

void fail_file(const std::string& path, const std::string& what) {
  throw DataError(path + ": " + what);
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::ostringstream out;
  out << '[';
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << ']';
  return out.str();
}

}  // namespace untwist
