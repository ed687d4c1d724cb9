// CLIP's text clean-up and BPE (the real vocabulary) on arbitrary prompts.
#include "fuzz_support.h"
#include "model/clip_tokenizer.h"
#include "model/text_cleanup.h"
#include "util/errors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const untwist::ClipTokenizer tokenizer =
      untwist::ClipTokenizer::load(UNTWIST_TOKENIZERS_DIR "/clip/bpe_simple_vocab_16e6.txt.gz");
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const auto ids = tokenizer.input_ids(text, 77);
    if (ids.size() != 77) std::abort();
  } catch (const untwist::DataError&) {
    if (untwist::utf8_problem(text).empty()) std::abort();  // valid UTF-8 must tokenize
  }
  return 0;
}
