// GGUF files (the format of llama.cpp, stable-diffusion.cpp and ComfyUI-GGUF):
// a validated reader of the header, metadata and tensor table, with tensors
// kept as stored or dequantised to float32 (F32, F16, BF16, Q8_0, Q4_0, Q4_K).
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/stored_tensor.h"

namespace untwist {

class MappedFile;  // io/mapped_file.h

enum class GgmlType : uint32_t { F32 = 0, F16 = 1, Q4_0 = 2, Q8_0 = 8, Q4_K = 12, BF16 = 30 };

struct GgufTensorEntry {
  std::string name;
  GgmlType type;
  std::vector<int64_t> shape;  // PyTorch order: GGUF's dimensions reversed
  uint64_t offset = 0;         // absolute byte offset in the file
  uint64_t bytes = 0;
};

class GgufFile {
 public:
  // Maps and validates the header and the tensor table; DataError naming the
  // file (and the tensor) on any inconsistency or unsupported tensor type.
  static std::shared_ptr<const GgufFile> open(const std::string& path);

  const std::string& path() const { return path_; }
  const std::vector<GgufTensorEntry>& entries() const { return entries_; }
  // String and number metadata as text ("general.architecture" -> "flux").
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // The tensor as stored: F32/F16/BF16 mapped in place (copied when
  // unaligned), quantised blocks kept encoded.
  StoredTensor stored(const GgufTensorEntry& entry) const;
  // The tensor as float32 (quantised blocks dequantised).
  at::Tensor tensor(const GgufTensorEntry& entry) const;

 private:
  GgufFile() = default;
  std::string path_;
  std::shared_ptr<MappedFile> mapping_;
  std::vector<GgufTensorEntry> entries_;
  std::map<std::string, std::string> metadata_;
};

// True when the file starts with GGUF's magic.
bool is_gguf_file(const std::string& path);

}  // namespace untwist
