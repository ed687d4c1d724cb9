// A C interface to libsentencepiece, built as its own module and loaded with
// RTLD_DEEPBIND (see t5_tokenizer.cpp): Debian's libsentencepiece carries its
// own copy of protobuf, which clashes with the protobuf libtorch links when
// both share the global symbol scope.
#include <sentencepiece_processor.h>

#include <cstring>
#include <string>
#include <vector>

namespace {

void copy_error(const std::string& message, char* error, size_t error_size) {
  if (!error || error_size == 0) return;
  std::strncpy(error, message.c_str(), error_size - 1);
  error[error_size - 1] = '\0';
}

}  // namespace

extern "C" {

void* untwist_spm_load(const char* path, char* error, size_t error_size) {
  try {
    auto* processor = new sentencepiece::SentencePieceProcessor();
    const auto status = processor->Load(path);
    if (!status.ok()) {
      copy_error(status.ToString(), error, error_size);
      delete processor;
      return nullptr;
    }
    return processor;
  } catch (const std::exception& e) {
    copy_error(e.what(), error, error_size);
    return nullptr;
  }
}

// Writes up to `capacity` ids; returns how many the text has (call again with
// more room when that is larger), or -1 on error.
long untwist_spm_encode(void* handle, const char* text, size_t length, int* ids, size_t capacity, char* error,
                        size_t error_size) {
  try {
    std::vector<int> pieces;
    const auto status =
        static_cast<sentencepiece::SentencePieceProcessor*>(handle)->Encode(std::string(text, length), &pieces);
    if (!status.ok()) {
      copy_error(status.ToString(), error, error_size);
      return -1;
    }
    for (size_t i = 0; i < pieces.size() && i < capacity; ++i) ids[i] = pieces[i];
    return static_cast<long>(pieces.size());
  } catch (const std::exception& e) {
    copy_error(e.what(), error, error_size);
    return -1;
  }
}

void untwist_spm_close(void* handle) { delete static_cast<sentencepiece::SentencePieceProcessor*>(handle); }

}  // extern "C"
