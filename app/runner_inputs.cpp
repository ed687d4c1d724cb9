#include "runner_inputs.h"

#include "util/errors.h"

namespace untwist {

at::Tensor RunnerInputs::required(const std::string& name) const {
  if (!has(name)) fail_file(path(), "missing input tensor '" + name + "'");
  return optional(name);
}

at::Tensor RunnerInputs::optional(const std::string& name) const {
  if (!has(name)) return {};
  const at::Tensor tensor = file_->tensor(name);
  if (!at::isFloatingType(tensor.scalar_type())) {
    fail_file(path(), "input tensor '" + name + "' is " + std::string(c10::toString(tensor.scalar_type())) +
                          ", expected a floating-point type");
  }
  const at::Tensor wide = tensor.to(at::kFloat);
  if (!at::isfinite(wide).all().item<bool>()) fail_file(path(), "input tensor '" + name + "' holds NaN or Inf");
  return wide;
}

}  // namespace untwist

namespace untwist {

at::Tensor RunnerInputs::integers(const std::string& name) const {
  if (!has(name)) fail_file(path(), "missing input tensor '" + name + "'");
  const at::Tensor tensor = file_->tensor(name);
  if (at::isFloatingType(tensor.scalar_type()) || tensor.scalar_type() == at::kBool) {
    fail_file(path(), "input tensor '" + name + "' is " + std::string(c10::toString(tensor.scalar_type())) +
                          ", expected integers");
  }
  return tensor.to(at::kLong);
}

std::vector<std::string> RunnerInputs::names_with_prefix(const std::string& prefix) const {
  std::vector<std::string> names;
  for (const auto& entry : file_->entries()) {
    if (entry.name.compare(0, prefix.size(), prefix) == 0) names.push_back(entry.name);
  }
  return names;
}

void naming_inputs_file(const std::string& inputs_path, const std::function<void()>& run) {
  try {
    run();
  } catch (const InputError& error) {
    fail_file(inputs_path, std::string("does not fit the model: ") + error.what());
  }
}

}  // namespace untwist
