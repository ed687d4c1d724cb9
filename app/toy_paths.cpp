#include "toy_paths.h"

#include <filesystem>

#include "util/errors.h"
#include "util/self_location.h"

namespace untwist {

std::string find_toy_model(const std::string& given) {
  namespace fs = std::filesystem;
  if (!given.empty()) return given;
  const fs::path relative = fs::path("models") / "toy" / "toy.safetensors";
  if (fs::exists(relative)) return relative.string();
  const fs::path data = installed_data_dir();
  if (!data.empty() && fs::exists(data / relative)) return (data / relative).string();
  for (fs::path dir = executable_dir(); !dir.empty() && dir != dir.root_path(); dir = dir.parent_path()) {
    if (fs::exists(dir / relative)) return (dir / relative).string();
  }
  throw UsageError("no toy model found at " + relative.string() + " here, in the install's share/untwist (" +
                   data.string() + ") or above the executable; give --model or train one with 'untwist toy train'");
}

void add_toy_model_option(CLI::App& command, std::string& path) {
  command.add_option("--model", path, "toy checkpoint (default: models/toy/toy.safetensors, else the installed one)")
      ->check(CLI::ExistingFile);
}

}  // namespace untwist
