#include "io/component_files.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "io/file_bytes.h"
#include "util/errors.h"

namespace untwist {

namespace fs = std::filesystem;

namespace {

constexpr uint64_t kMaxIndexBytes = 64ull << 20;

}  // namespace

Weights load_component(const std::string& path) {
  if (fs::is_directory(path)) return Weights::load(component_files(path));
  return Weights::load(path);
}

std::vector<std::string> component_files(const std::string& folder) {
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(folder)) {
    const std::string name = entry.path().filename().string();
    if (name.size() > 11 && name.compare(name.size() - 11, 11, ".index.json") == 0) {
      const auto index =
          nlohmann::json::parse(read_file_bytes(entry.path().string(), kMaxIndexBytes), nullptr, false);
      if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object()) {
        fail_file(entry.path().string(), "not a safetensors index: no 'weight_map' object");
      }
      std::set<std::string> shards;
      for (const auto& shard : index["weight_map"]) {
        if (!shard.is_string()) fail_file(entry.path().string(), "weight_map holds a non-string file name");
        const fs::path name = shard.get<std::string>();
        if (name.empty() || name != name.filename() || name == "." || name == "..") {
          fail_file(entry.path().string(), "weight_map names '" + name.string() + "', not a file in this folder");
        }
        shards.insert((fs::path(folder) / shard.get<std::string>()).string());
      }
      return {shards.begin(), shards.end()};
    }
  }
  for (const auto& entry : fs::directory_iterator(folder)) {
    if (entry.path().extension() == ".safetensors") files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) fail_file(folder, "holds no .safetensors files");
  return files;
}

const at::Tensor& require_finite_output(const at::Tensor& output, const std::string& component, const std::string& what) {
  if (at::isfinite(output).all().item<bool>()) return output;
  const std::string weight = load_component(component).first_non_finite();
  fail_file(component, what + " produced NaN or Inf" +
                           (weight.empty() ? std::string() : ": its tensor '" + weight + "' holds NaN or Inf"));
}

}  // namespace untwist
