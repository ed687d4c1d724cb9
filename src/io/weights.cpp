#include "io/weights.h"

#include <set>

#include "io/diffusers_layout.h"
#include "io/gguf.h"
#include "io/safetensors.h"
#include "util/errors.h"

namespace untwist {

namespace {

// Prefixes under which tools save a model's own names, longest first. The
// golden files keep weights under "model." beside their "in."/"out." tensors.
const char* const kKnownPrefixes[] = {"model.diffusion_model.", "diffusion_model.", "first_stage_model.",
                                      "model.", "transformer.", "vae."};

bool starts_with(const std::string& text, const std::string& prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

// Keeps the names under the longest known prefix that any name carries,
// with that prefix removed; with no known prefix, keeps every name.
TensorMap strip_prefix(TensorMap tensors) {
  for (const char* prefix : kKnownPrefixes) {
    bool any = false;
    for (const auto& entry : tensors) any = any || starts_with(entry.first, prefix);
    if (!any) continue;
    TensorMap stripped;
    const size_t length = std::string(prefix).size();
    for (auto& entry : tensors) {
      if (starts_with(entry.first, prefix)) stripped[entry.first.substr(length)] = std::move(entry.second);
    }
    return stripped;
  }
  return tensors;
}

}  // namespace

std::vector<int> indices_under(const TensorMap& tensors, const std::string& prefix) {
  std::set<int> found;
  for (auto it = tensors.lower_bound(prefix); it != tensors.end() && starts_with(it->first, prefix); ++it) {
    const std::string rest = it->first.substr(prefix.size());
    size_t digits = 0;
    while (digits < rest.size() && digits < 9 && std::isdigit(static_cast<unsigned char>(rest[digits]))) ++digits;
    if (digits > 0 && digits < rest.size() && rest[digits] == '.') found.insert(std::stoi(rest.substr(0, digits)));
  }
  return {found.begin(), found.end()};
}

Weights Weights::load(const std::vector<std::string>& paths) {
  if (paths.empty()) throw DataError("no weight files given");
  TensorMap tensors;
  Weights weights;
  weights.source_ = paths.front();
  for (size_t i = 1; i < paths.size(); ++i) weights.source_ += ", " + paths[i];
  const auto add = [&](const std::string& path, const std::string& name, at::Tensor tensor) {
    if (!tensors.emplace(name, std::move(tensor)).second) {
      fail_file(path, "tensor '" + name + "' appears in more than one shard");
    }
  };
  for (const auto& path : paths) {
    if (is_gguf_file(path)) {  // quantised blocks become float32 here
      const auto file = GgufFile::open(path);
      if (weights.metadata_.empty()) weights.metadata_ = file->metadata();
      for (const auto& entry : file->entries()) add(path, entry.name, file->tensor(entry));
      continue;
    }
    const auto file = SafetensorsFile::open(path);
    if (weights.metadata_.empty()) weights.metadata_ = file->metadata();
    for (const auto& entry : file->entries()) add(path, entry.name, file->tensor(entry.name));
  }
  tensors = strip_prefix(std::move(tensors));
  if (looks_like_diffusers_flux(tensors)) {
    weights.tensors_ = convert_diffusers_flux(tensors, weights.source_);
    weights.layout_ = WeightLayout::Diffusers;
  } else if (looks_like_diffusers_autoencoder(tensors)) {
    weights.tensors_ = convert_diffusers_autoencoder(tensors, weights.source_);
    weights.layout_ = WeightLayout::Diffusers;
  } else {
    weights.tensors_ = std::move(tensors);
  }
  return weights;
}

Weights Weights::from_tensors(TensorMap tensors, std::string source) {
  Weights weights;
  weights.tensors_ = std::move(tensors);
  weights.source_ = std::move(source);
  return weights;
}

nlohmann::json Weights::metadata_config() const {
  for (const char* key : {"config", "params"}) {
    const auto it = metadata_.find(key);
    if (it == metadata_.end()) continue;
    const auto parsed = nlohmann::json::parse(it->second, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_object()) return parsed;
  }
  return nlohmann::json::object();
}

at::Tensor Weights::get(const std::string& name) const {
  const auto it = tensors_.find(name);
  if (it == tensors_.end()) fail_file(source_, "missing tensor '" + name + "'");
  return it->second;
}

at::Tensor Weights::get(const std::string& name, const std::vector<int64_t>& expected_shape) const {
  at::Tensor tensor = get(name);
  if (tensor.sizes().vec() != expected_shape) {
    fail_file(source_, "tensor '" + name + "' has shape " + shape_string(tensor.sizes().vec()) + ", expected " +
                           shape_string(expected_shape));
  }
  return tensor;
}

std::string Weights::first_non_finite() const {
  for (const auto& [name, tensor] : tensors_) {
    if (at::isFloatingType(tensor.scalar_type()) && !at::isfinite(tensor).all().item<bool>()) return name;
  }
  return "";
}

}  // namespace untwist
