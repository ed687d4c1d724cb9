#include "util/device.h"

#include <ATen/Context.h>
#include <ATen/detail/CUDAHooksInterface.h>

#include "util/errors.h"

namespace untwist {

c10::Device parse_device(const std::string& name) {
  const bool cuda = name == "cuda" || name.rfind("cuda:", 0) == 0;
  if (name != "cpu" && !cuda) throw UsageError("--device must be cpu, cuda or cuda:N, got '" + name + "'");
  if (name == "cpu") return c10::Device(c10::kCPU);
  if (!at::hasCUDA()) {
    throw UsageError("--device " + name +
                     ": this untwist is built against a libtorch without CUDA (or no GPU driver was found); "
                     "build against a CUDA libtorch with -DCMAKE_PREFIX_PATH=<libtorch> (see README)");
  }
  const std::string index_text = name.size() > 5 ? name.substr(5) : "0";
  if (index_text.empty() || index_text.find_first_not_of("0123456789") != std::string::npos || index_text.size() > 3) {
    throw UsageError("--device " + name + ": the GPU index must be a number");
  }
  const int index = std::stoi(index_text);
  const int gpus = at::detail::getCUDAHooks().getNumGPUs();
  if (index >= gpus) {
    throw UsageError("--device " + name + ": there are " + std::to_string(gpus) + " GPU(s), numbered from 0");
  }
  return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index));
}

}  // namespace untwist
