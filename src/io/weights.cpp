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

// The longest known prefix that any name carries, or "".
std::string known_prefix(const std::vector<std::string>& names) {
  for (const char* prefix : kKnownPrefixes) {
    for (const auto& name : names) {
      if (starts_with(name, prefix)) return prefix;
    }
  }
  return "";
}

// Keeps the names under `prefix`, with the prefix removed.
template <typename Map>
Map strip_prefix(Map tensors, const std::string& prefix) {
  if (prefix.empty()) return tensors;
  Map stripped;
  for (auto& entry : tensors) {
    if (starts_with(entry.first, prefix)) stripped[entry.first.substr(prefix.size())] = std::move(entry.second);
  }
  return stripped;
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
  std::map<std::string, StoredTensor> encoded;
  std::vector<std::string> names;
  Weights weights;
  weights.source_ = paths.front();
  for (size_t i = 1; i < paths.size(); ++i) weights.source_ += ", " + paths[i];
  const auto add = [&](const std::string& path, const std::string& name, StoredTensor tensor) {
    const bool fresh = tensor.encoded() ? encoded.emplace(name, tensor).second && !tensors.count(name)
                                        : tensors.emplace(name, tensor.decoded()).second && !encoded.count(name);
    if (!fresh) fail_file(path, "tensor '" + name + "' appears in more than one shard");
    names.push_back(name);
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
  const std::string prefix = known_prefix(names);
  tensors = strip_prefix(std::move(tensors), prefix);
  encoded = strip_prefix(std::move(encoded), prefix);
  const auto decode_all = [&] {  // the diffusers conversions work on plain tensors
    for (const auto& [name, tensor] : encoded) tensors[name] = tensor.decoded();
    encoded.clear();
  };
  TensorMap every_name = tensors;  // the layout checks read names only
  for (const auto& entry : encoded) every_name.emplace(entry.first, at::Tensor());
  if (looks_like_diffusers_flux(every_name)) {
    decode_all();
    weights.tensors_ = convert_diffusers_flux(tensors, weights.source_);
    weights.layout_ = WeightLayout::Diffusers;
  } else if (looks_like_diffusers_autoencoder(every_name)) {
    decode_all();
    weights.tensors_ = convert_diffusers_autoencoder(tensors, weights.source_);
    weights.layout_ = WeightLayout::Diffusers;
  } else {
    weights.tensors_ = std::move(tensors);
    weights.encoded_ = std::move(encoded);
  }
  return weights;
}

Weights Weights::from_tensors(TensorMap tensors, std::string source) {
  Weights weights;
  weights.tensors_ = std::move(tensors);
  weights.source_ = std::move(source);
  return weights;
}

Weights Weights::from_stored(const std::map<std::string, StoredTensor>& tensors, std::string source) {
  Weights weights;
  for (const auto& [name, tensor] : tensors) {
    if (tensor.encoded()) {
      weights.encoded_.emplace(name, tensor);
    } else {
      weights.tensors_.emplace(name, tensor.decoded());
    }
  }
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

std::vector<int> Weights::indices_under(const std::string& prefix) const {
  TensorMap every_name = tensors_;  // shallow: tensors share their storage
  for (const auto& entry : encoded_) every_name.emplace(entry.first, at::Tensor());
  return untwist::indices_under(every_name, prefix);
}

at::Tensor Weights::get(const std::string& name) const {
  const auto it = tensors_.find(name);
  if (it != tensors_.end()) return it->second;
  const auto encoded = encoded_.find(name);
  if (encoded == encoded_.end()) fail_file(source_, "missing tensor '" + name + "'");
  return encoded->second.decoded();
}

StoredTensor Weights::stored(const std::string& name, const std::vector<int64_t>& expected_shape) const {
  const auto it = tensors_.find(name);
  StoredTensor tensor;
  if (it != tensors_.end()) {
    tensor = StoredTensor(it->second);
  } else {
    const auto encoded = encoded_.find(name);
    if (encoded == encoded_.end()) fail_file(source_, "missing tensor '" + name + "'");
    tensor = encoded->second;
  }
  if (tensor.sizes() != expected_shape) {
    fail_file(source_, "tensor '" + name + "' has shape " + shape_string(tensor.sizes()) + ", expected " +
                           shape_string(expected_shape));
  }
  return tensor;
}

at::Tensor Weights::get(const std::string& name, const std::vector<int64_t>& expected_shape) const {
  return stored(name, expected_shape).decoded();
}

TensorMap Weights::tensors() const {
  TensorMap all = tensors_;
  for (const auto& [name, tensor] : encoded_) all[name] = tensor.decoded();
  return all;
}

std::string Weights::first_non_finite() const {
  const auto finite = [](const at::Tensor& tensor) {
    return !at::isFloatingType(tensor.scalar_type()) || at::isfinite(tensor).all().item<bool>();
  };
  for (const auto& [name, tensor] : tensors_) {
    if (!finite(tensor)) return name;
  }
  for (const auto& [name, tensor] : encoded_) {  // one decoded tensor at a time
    if (!finite(tensor.decoded())) return name;
  }
  return "";
}

}  // namespace untwist
