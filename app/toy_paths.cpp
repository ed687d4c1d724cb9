#include "toy_paths.h"

#include <unistd.h>

#include <filesystem>

#include "util/errors.h"

namespace untwist {

std::string find_toy_model(const std::string& given) {
  namespace fs = std::filesystem;
  if (!given.empty()) return given;
  const fs::path relative = fs::path("models") / "toy" / "toy.safetensors";
  if (fs::exists(relative)) return relative.string();
  std::error_code error;
  const fs::path exe = fs::read_symlink("/proc/self/exe", error);
  if (!error) {
    for (fs::path dir = exe.parent_path(); !dir.empty() && dir != dir.root_path(); dir = dir.parent_path()) {
      if (fs::exists(dir / relative)) return (dir / relative).string();
    }
  }
  throw UsageError("no toy model found at models/toy/toy.safetensors; give --model or train one with 'untwist toy train'");
}

void add_toy_model_option(CLI::App& command, std::string& path) {
  command.add_option("--model", path, "toy checkpoint (default: models/toy/toy.safetensors)")->check(CLI::ExistingFile);
}

}  // namespace untwist
