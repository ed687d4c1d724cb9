// The safetensors reader on arbitrary bytes: header validation, then every
// tensor read and summed.
#include "fuzz_support.h"
#include "io/safetensors.h"
#include "util/errors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto file = untwist::SafetensorsFile::open(untwist::fuzz::as_file(data, size));
    for (const auto& entry : file->entries()) {
      const at::Tensor tensor = file->tensor(entry.name);
      if (tensor.is_floating_point()) tensor.to(at::kDouble).sum().item<double>();
    }
  } catch (const untwist::DataError&) {
  }
  return 0;
}
