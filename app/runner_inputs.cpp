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
