// The `in.*` tensors of a runner's inputs file, read as float32.
#pragma once
#include <ATen/ATen.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "io/safetensors.h"

namespace untwist {

class RunnerInputs {
 public:
  explicit RunnerInputs(const std::string& path) : file_(SafetensorsFile::open(path)) {}
  bool has(const std::string& name) const { return file_->contains(name); }
  // DataError naming the file when missing.
  at::Tensor required(const std::string& name) const;
  // Undefined tensor when missing.
  at::Tensor optional(const std::string& name) const;
  // Integer tensors (token ids, masks) as int64; DataError when missing or not integers.
  at::Tensor integers(const std::string& name) const;
  // Names of the tensors that start with `prefix`, in file order.
  std::vector<std::string> names_with_prefix(const std::string& prefix) const;
  const std::string& path() const { return file_->path(); }

 private:
  std::shared_ptr<const SafetensorsFile> file_;
};

// Runs a runner whose in.* tensors come from `inputs_path`: an InputError
// (a tensor that does not fit the model) is reported against that file.
void naming_inputs_file(const std::string& inputs_path, const std::function<void()>& run);

}  // namespace untwist
