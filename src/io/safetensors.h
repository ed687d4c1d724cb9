// safetensors files: a memory-mapped, fully validated reader and an atomic writer.
//
// Layout: 8-byte little-endian header length N, N bytes of UTF-8 JSON
// {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}},
// then the data section that the offsets index.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "io/stored_tensor.h"

namespace untwist {

enum class StoredDtype { F64, F32, F16, BF16, F8_E4M3, F8_E5M2, I64, I32, I16, I8, U8, BOOL };

const char* stored_dtype_name(StoredDtype dtype);
size_t stored_dtype_size(StoredDtype dtype);

struct TensorEntry {
  std::string name;
  StoredDtype dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte offsets into the data section
  uint64_t end = 0;
};

class MappedFile;  // io/mapped_file.h

class SafetensorsFile {
 public:
  // Maps and validates the whole header; throws DataError naming the file
  // (and the tensor) on any inconsistency. No tensor data is read.
  static std::shared_ptr<const SafetensorsFile> open(const std::string& path);

  const std::string& path() const { return path_; }
  const std::vector<TensorEntry>& entries() const { return entries_; }
  const TensorEntry* find(const std::string& name) const;
  bool contains(const std::string& name) const { return find(name) != nullptr; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // The tensor as stored, wrapping the mapped bytes without a copy where the
  // alignment allows (the mapping stays alive as long as the tensor); float8
  // tensors stay encoded. Throws DataError for an unknown name.
  StoredTensor stored(const std::string& name) const;
  // The same with float8 tensors widened to float32.
  at::Tensor tensor(const std::string& name) const;

 private:
  SafetensorsFile() = default;
  std::string path_;
  std::shared_ptr<MappedFile> mapping_;
  const uint8_t* data_ = nullptr;  // start of the data section
  std::vector<TensorEntry> entries_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
};

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

// Writes tensors (any device layout; made contiguous CPU) and string metadata
// atomically: the target appears complete or not at all.
void write_safetensors(const std::string& path, const NamedTensors& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace untwist
