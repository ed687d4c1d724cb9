#include "util/self_location.h"

namespace untwist {

namespace fs = std::filesystem;

fs::path executable_path() {
  std::error_code error;
  const fs::path path = fs::read_symlink("/proc/self/exe", error);
  return error ? fs::path() : path;
}

fs::path executable_dir() { return executable_path().parent_path(); }

fs::path installed_module_dir() {
  const fs::path dir = executable_dir();
  return dir.empty() ? dir : dir.parent_path() / "lib" / "untwist";
}

fs::path installed_data_dir() {
  const fs::path dir = executable_dir();
  return dir.empty() ? dir : dir.parent_path() / "share" / "untwist";
}

}  // namespace untwist
