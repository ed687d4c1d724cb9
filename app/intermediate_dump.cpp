#include "intermediate_dump.h"

#include <fnmatch.h>

#include <filesystem>
#include <utility>

namespace untwist {

IntermediateDump::IntermediateDump(std::string pattern, std::string directory)
    : pattern_(std::move(pattern)), directory_(std::move(directory)) {
  std::filesystem::create_directories(directory_);
}

StageProbe IntermediateDump::probe() {
  return [this](const std::string& name, const at::Tensor& tensor) {
    seen_.insert(name);
    if (fnmatch(pattern_.c_str(), name.c_str(), 0) == 0) {
      kept_.emplace_back(name, tensor.detach().to(at::kCPU, at::kFloat).contiguous());
    }
    return true;
  };
}

void IntermediateDump::write(const std::string& pass) {
  if (kept_.empty()) return;
  write_safetensors(directory_ + "/" + pass + ".safetensors", kept_);
  kept_.clear();
  matched_ = true;
}

std::string IntermediateDump::unmatched_note() const {
  if (matched_) return "";
  std::string names;
  for (const std::string& name : seen_) names += (names.empty() ? "" : ", ") + name;
  return "--dump '" + pattern_ + "' matched no intermediate; the forward pass names " + names;
}

}  // namespace untwist
