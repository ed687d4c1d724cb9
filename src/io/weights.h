// A model's weights under the reference checkpoint names, whatever layout the
// file uses: BFL/ComfyUI names with or without a known prefix
// ("model.diffusion_model.", "model.", ...), or diffusers names, which are
// converted once at load. Tensors of safetensors files are wrapped, not
// copied; GGUF files (F32, F16, BF16, Q8_0, Q4_0, Q4_K) are read as float32.
#pragma once
#include <ATen/ATen.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace untwist {

enum class WeightLayout { Reference, Diffusers };

using TensorMap = std::map<std::string, at::Tensor>;

// Every name under `prefix` ("double_blocks.") as the integer that follows
// it, sorted and unique: the block indices of a stack.
std::vector<int> indices_under(const TensorMap& tensors, const std::string& prefix);

class Weights {
 public:
  // Reads every tensor of one or more safetensors or GGUF files (shards of one model).
  static Weights load(const std::vector<std::string>& paths);
  static Weights load(const std::string& path) { return load(std::vector<std::string>{path}); }
  // Wraps tensors already in memory, named with reference names.
  static Weights from_tensors(TensorMap tensors, std::string source);

  bool has(const std::string& name) const { return tensors_.count(name) != 0; }
  // Throws DataError naming the source and the tensor when it is missing.
  at::Tensor get(const std::string& name) const;
  // Same, and checks the shape.
  at::Tensor get(const std::string& name, const std::vector<int64_t>& expected_shape) const;
  std::vector<int> indices_under(const std::string& prefix) const { return untwist::indices_under(tensors_, prefix); }

  const std::string& source() const { return source_; }
  WeightLayout layout() const { return layout_; }
  // The first file's __metadata__.
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // The JSON object in metadata "config" or "params" (HuggingFace config /
  // reference params), or an empty object.
  nlohmann::json metadata_config() const;
  const TensorMap& tensors() const { return tensors_; }
  // The name of the first floating-point tensor holding NaN or Inf; empty if none.
  std::string first_non_finite() const;

 private:
  TensorMap tensors_;
  std::map<std::string, std::string> metadata_;
  std::string source_;
  WeightLayout layout_ = WeightLayout::Reference;
};

}  // namespace untwist
