// The sentencepiece tokenizer through untwist's module: arbitrary prompts on
// the tiny T5 model, and arbitrary bytes as a model file.
#include "fuzz_support.h"
#include "model/t5_tokenizer.h"
#include "util/errors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const untwist::T5Tokenizer tokenizer =
      untwist::T5Tokenizer::load(UNTWIST_TOKENIZERS_DIR "/t5_tiny/spiece.model");
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    if (tokenizer.input_ids(text, 64).size() != 64) std::abort();
  } catch (const untwist::DataError&) {
  }
  try {
    untwist::T5Tokenizer::load(untwist::fuzz::as_file(data, size)).input_ids("a cat", 8);
  } catch (const untwist::DataError&) {
  }
  return 0;
}
