#include "io/weights.h"

#include <set>

#include "io/diffusers_layout.h"
#include "io/flux2_diffusers_layout.h"
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

// The longest known prefix that any name carries, or "".
std::string known_prefix(const StoredMap& tensors) {
  for (const char* prefix : kKnownPrefixes) {
    for (const auto& entry : tensors) {
      if (starts_with(entry.first, prefix)) return prefix;
    }
  }
  return "";
}

// Keeps the names under `prefix`, with the prefix removed.
StoredMap strip_prefix(StoredMap tensors, const std::string& prefix) {
  if (prefix.empty()) return tensors;
  StoredMap stripped;
  for (auto& entry : tensors) {
    if (starts_with(entry.first, prefix)) stripped[entry.first.substr(prefix.size())] = std::move(entry.second);
  }
  return stripped;
}

// See untwist::indices_under; for any map keyed by tensor name.
template <typename Map>
std::vector<int> indices_in(const Map& tensors, const std::string& prefix) {
  std::set<int> found;
  for (auto it = tensors.lower_bound(prefix); it != tensors.end() && starts_with(it->first, prefix); ++it) {
    const std::string rest = it->first.substr(prefix.size());
    size_t digits = 0;
    while (digits < rest.size() && digits < 9 && std::isdigit(static_cast<unsigned char>(rest[digits]))) ++digits;
    if (digits > 0 && digits < rest.size() && rest[digits] == '.') found.insert(std::stoi(rest.substr(0, digits)));
  }
  return {found.begin(), found.end()};
}

StoredMap wrap_plain(TensorMap tensors) {
  StoredMap stored;
  for (auto& [name, tensor] : tensors) stored.emplace(name, StoredTensor(std::move(tensor)));
  return stored;
}

}  // namespace

std::vector<int> indices_under(const TensorMap& tensors, const std::string& prefix) {
  return indices_in(tensors, prefix);
}

std::vector<int> indices_under(const StoredMap& tensors, const std::string& prefix) {
  return indices_in(tensors, prefix);
}

Weights Weights::load(const std::vector<std::string>& paths) {
  if (paths.empty()) throw DataError("no weight files given");
  StoredMap tensors;
  Weights weights;
  weights.source_ = paths.front();
  for (size_t i = 1; i < paths.size(); ++i) weights.source_ += ", " + paths[i];
  const auto add = [&](const std::string& path, const std::string& name, StoredTensor tensor) {
    if (!tensors.emplace(name, std::move(tensor)).second) {
      fail_file(path, "tensor '" + name + "' appears in more than one shard");
    }
  };
  for (const auto& path : paths) {
    if (is_gguf_file(path)) {
      const auto file = GgufFile::open(path);
      if (weights.metadata_.empty()) weights.metadata_ = file->metadata();
      for (const auto& entry : file->entries()) add(path, entry.name, file->stored(entry));
      continue;
    }
    const auto file = SafetensorsFile::open(path);
    if (weights.metadata_.empty()) weights.metadata_ = file->metadata();
    for (const auto& entry : file->entries()) add(path, entry.name, file->stored(entry.name));
  }
  const std::string prefix = known_prefix(tensors);
  weights.tensors_ = strip_prefix(std::move(tensors), prefix);
  TensorMap every_name;  // the layout checks read names only
  for (const auto& entry : weights.tensors_) every_name.emplace(entry.first, at::Tensor());
  // FLUX.2 first: its diffusers names share the FLUX.1 block stacks' names.
  // Its conversion keeps encoded tensors encoded; the FLUX.1 and autoencoder
  // conversions work on plain tensors, so encoded ones are decoded first.
  if (looks_like_diffusers_flux2(every_name)) {
    weights.tensors_ = convert_diffusers_flux2(weights.tensors_, weights.source_);
    weights.layout_ = WeightLayout::Diffusers;
  } else if (looks_like_diffusers_flux(every_name)) {
    weights.tensors_ = convert_diffusers_flux(weights.tensors_, weights.source_);
    weights.layout_ = WeightLayout::Diffusers;
  } else if (looks_like_diffusers_autoencoder(every_name)) {
    weights.tensors_ = convert_diffusers_autoencoder(weights.tensors_, weights.source_);
    weights.layout_ = WeightLayout::Diffusers;
  }
  return weights;
}

Weights Weights::from_tensors(TensorMap tensors, std::string source) {
  Weights weights;
  weights.tensors_ = wrap_plain(std::move(tensors));
  weights.source_ = std::move(source);
  return weights;
}

Weights Weights::from_stored(const std::map<std::string, StoredTensor>& tensors, std::string source) {
  Weights weights;
  weights.tensors_ = tensors;
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

std::vector<int> Weights::indices_under(const std::string& prefix) const { return indices_in(tensors_, prefix); }

std::vector<std::string> Weights::names() const {
  std::vector<std::string> names;
  for (const auto& entry : tensors_) names.push_back(entry.first);
  return names;
}

std::vector<int64_t> Weights::shape(const std::string& name) const {
  const auto it = tensors_.find(name);
  if (it == tensors_.end()) fail_file(source_, "missing tensor '" + name + "'");
  return it->second.sizes();
}

at::Tensor Weights::get(const std::string& name) const {
  const auto it = tensors_.find(name);
  if (it == tensors_.end()) fail_file(source_, "missing tensor '" + name + "'");
  return it->second.decoded();
}

StoredTensor Weights::stored(const std::string& name, const std::vector<int64_t>& expected_shape) const {
  const auto it = tensors_.find(name);
  if (it == tensors_.end()) fail_file(source_, "missing tensor '" + name + "'");
  if (it->second.sizes() != expected_shape) {
    fail_file(source_, "tensor '" + name + "' has shape " + shape_string(it->second.sizes()) + ", expected " +
                           shape_string(expected_shape));
  }
  return it->second;
}

at::Tensor Weights::get(const std::string& name, const std::vector<int64_t>& expected_shape) const {
  return stored(name, expected_shape).decoded();
}

TensorMap Weights::tensors() const {
  TensorMap all;
  for (const auto& [name, tensor] : tensors_) all.emplace(name, tensor.decoded());
  return all;
}

std::string Weights::first_non_finite() const {
  for (const auto& [name, stored] : tensors_) {  // one decoded tensor at a time
    const at::Tensor tensor = stored.decoded();
    if (at::isFloatingType(tensor.scalar_type()) && !at::isfinite(tensor).all().item<bool>()) return name;
  }
  return "";
}

}  // namespace untwist
