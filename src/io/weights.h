// A model's weights under the reference checkpoint names, whatever layout the
// file uses: BFL/ComfyUI names with or without a known prefix
// ("model.diffusion_model.", "model.", ...), or diffusers names, which are
// converted once at load. Tensors of safetensors and GGUF files are mapped,
// not copied; float8 and quantised tensors (F8_E4M3, F8_E5M2, Q8_0, Q4_0,
// Q4_K) stay encoded until used: `get` decodes them to float32, `stored` hands
// them out as they are, for models that decode layer by layer.
#pragma once
#include <ATen/ATen.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/stored_tensor.h"

namespace untwist {

enum class WeightLayout { Reference, Diffusers };

using TensorMap = std::map<std::string, at::Tensor>;

// Every name under `prefix` ("double_blocks.") as the integer that follows
// it, sorted and unique: the block indices of a stack.
std::vector<int> indices_under(const TensorMap& tensors, const std::string& prefix);
std::vector<int> indices_under(const StoredMap& tensors, const std::string& prefix);

class Weights {
 public:
  // Reads every tensor of one or more safetensors or GGUF files (shards of one model).
  static Weights load(const std::vector<std::string>& paths);
  static Weights load(const std::string& path) { return load(std::vector<std::string>{path}); }
  // Wraps tensors already in memory, named with reference names.
  static Weights from_tensors(TensorMap tensors, std::string source);
  // Same for tensors as stored (encoded ones stay encoded).
  static Weights from_stored(const std::map<std::string, StoredTensor>& tensors, std::string source);

  bool has(const std::string& name) const { return tensors_.count(name) != 0; }
  // Throws DataError naming the source and the tensor when it is missing;
  // encoded tensors come back decoded to float32.
  at::Tensor get(const std::string& name) const;
  // Same, and checks the shape.
  at::Tensor get(const std::string& name, const std::vector<int64_t>& expected_shape) const;
  // The tensor as stored (encoded ones still encoded), shape checked.
  StoredTensor stored(const std::string& name, const std::vector<int64_t>& expected_shape) const;
  // Names of the block stack under `prefix` (see untwist::indices_under).
  std::vector<int> indices_under(const std::string& prefix) const;
  // Every tensor name, sorted.
  std::vector<std::string> names() const;
  // The tensor's shape, without decoding it; DataError when it is missing.
  std::vector<int64_t> shape(const std::string& name) const;

  const std::string& source() const { return source_; }
  WeightLayout layout() const { return layout_; }
  // The first file's __metadata__.
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // The JSON object in metadata "config" or "params" (HuggingFace config /
  // reference params), or an empty object.
  nlohmann::json metadata_config() const;
  // Every tensor, encoded ones decoded to float32.
  TensorMap tensors() const;
  // The name of the first floating-point tensor holding NaN or Inf; empty if none.
  std::string first_non_finite() const;

 private:
  std::map<std::string, StoredTensor> tensors_;  // plain, or still encoded (float8, quantised)
  std::map<std::string, std::string> metadata_;
  std::string source_;
  WeightLayout layout_ = WeightLayout::Reference;
};

}  // namespace untwist
