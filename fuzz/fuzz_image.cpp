// The image loader on arbitrary bytes, and fitting what it loads to 16x16.
#include "fuzz_support.h"
#include "io/image_file.h"
#include "util/errors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const at::Tensor rgb = untwist::read_image(untwist::fuzz::as_file(data, size));
    untwist::resize_and_crop(rgb, 16, 16);
  } catch (const untwist::DataError&) {
  }
  return 0;
}
