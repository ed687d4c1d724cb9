// A weight as its file stores it, decoded only where it is used. Plain
// tensors (float32, float16, bfloat16, ...) are libtorch tensors, mapped from
// the file in place where alignment allows; float8 and GGUF's quantised
// blocks have no libtorch type and stay encoded bytes until `as` decodes them.
// A model that asks for its weights layer by layer through `as` holds the
// stored bytes plus one layer's converted copy, not a converted model.
#pragma once
#include <map>
#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace untwist {

enum class Encoding { F8_E4M3, F8_E5M2, Q8_0, Q4_0, Q4_K };

const char* encoding_name(Encoding encoding);
// Values per block and bytes per block of the encoding (float8: 1 and 1).
int64_t encoding_block_values(Encoding encoding);
int64_t encoding_block_bytes(Encoding encoding);

class StoredTensor {
 public:
  StoredTensor() = default;
  explicit StoredTensor(at::Tensor plain);
  // `bytes`: 1-D uint8 holding whole blocks of `shape`'s values (checked).
  StoredTensor(Encoding encoding, at::Tensor bytes, std::vector<int64_t> shape);

  // `values` encoded: float8 E4M3 or whole quantised blocks (the last
  // dimension a multiple of the block size); UsageError for what cannot be.
  static StoredTensor encode(const at::Tensor& values, Encoding encoding);

  bool defined() const { return plain_.defined() || bytes_.defined(); }
  bool encoded() const { return bytes_.defined(); }
  Encoding encoding() const { return encoding_; }
  std::vector<int64_t> sizes() const { return encoded() ? shape_ : plain_.sizes().vec(); }
  // Bytes the stored form occupies.
  int64_t stored_bytes() const;
  // A short description of the stored type: "BF16", "Q4_K", ...
  std::string type_name() const;

  // The values in `dtype`. A plain tensor already in `dtype` is returned as
  // is (no copy, autograd intact); anything else is a new tensor. Encoded
  // tensors decode straight into bfloat16 or float32 (no float32 copy of a
  // matrix for bfloat16 compute).
  at::Tensor as(at::ScalarType dtype) const;
  // The encoded bytes ([n] uint8); undefined for a plain tensor.
  const at::Tensor& as_bytes() const { return bytes_; }
  // Plain tensors as stored, encoded ones decoded to float32.
  at::Tensor decoded() const { return encoded() ? as(at::kFloat) : plain_; }

 private:
  at::Tensor plain_;
  at::Tensor bytes_;  // [n] uint8, encoded blocks
  Encoding encoding_ = Encoding::F8_E4M3;
  std::vector<int64_t> shape_;
};

using StoredMap = std::map<std::string, StoredTensor>;

}  // namespace untwist
