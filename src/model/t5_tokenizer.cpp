#include "model/t5_tokenizer.h"

#include <dlfcn.h>

#include <filesystem>
#include <mutex>

#include "util/errors.h"
#include "util/self_location.h"

namespace untwist {

namespace {

constexpr size_t kErrorSize = 512;

// libsentencepiece is reached through our own module, opened with
// RTLD_DEEPBIND so that the protobuf copy inside it stays its own.
struct SentencepieceModule {
  void* (*load)(const char*, char*, size_t) = nullptr;
  long (*encode)(void*, const char*, size_t, int*, size_t, char*, size_t) = nullptr;
  void (*close)(void*) = nullptr;
};

const SentencepieceModule& module() {
  static std::once_flag once;
  static SentencepieceModule functions;
  static std::string failure;
  std::call_once(once, [] {
    // Beside the real executable (the build folder), in the install prefix's
    // lib/untwist, else wherever the library path finds it. A link-map
    // namespace of its own keeps its protobuf apart from libtorch's.
    const std::string name = "libuntwist_sentencepiece.so";
    void* handle = nullptr;
    std::string errors;
    for (const std::string& path : {(executable_dir() / name).string(), (installed_module_dir() / name).string(), name}) {
      handle = dlmopen(LM_ID_NEWLM, path.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (handle) break;
      errors += std::string(errors.empty() ? "" : "; ") + dlerror();
    }
    if (!handle) {
      failure = "cannot load the sentencepiece module: " + errors;
      return;
    }
    functions.load = reinterpret_cast<decltype(functions.load)>(dlsym(handle, "untwist_spm_load"));
    functions.encode = reinterpret_cast<decltype(functions.encode)>(dlsym(handle, "untwist_spm_encode"));
    functions.close = reinterpret_cast<decltype(functions.close)>(dlsym(handle, "untwist_spm_close"));
    if (!functions.load || !functions.encode || !functions.close) failure = "the sentencepiece module is incomplete";
  });
  if (!failure.empty()) throw DataError(failure);
  return functions;
}

}  // namespace

struct T5Tokenizer::Model {
  void* handle = nullptr;
  ~Model() {
    if (handle) module().close(handle);
  }
};

T5Tokenizer T5Tokenizer::load(const std::string& path) {
  if (!std::filesystem::is_regular_file(path)) fail_file(path, "not a file");
  char error[kErrorSize] = {};
  T5Tokenizer tokenizer;
  tokenizer.model_ = std::make_shared<Model>();
  tokenizer.model_->handle = module().load(path.c_str(), error, sizeof(error));
  if (!tokenizer.model_->handle) fail_file(path, std::string("not a sentencepiece model: ") + error);
  return tokenizer;
}

std::vector<int64_t> T5Tokenizer::encode(const std::string& text) const {
  char error[kErrorSize] = {};
  std::vector<int> ids(text.size() + 16);
  long count = module().encode(model_->handle, text.data(), text.size(), ids.data(), ids.size(), error, sizeof(error));
  if (count > static_cast<long>(ids.size())) {
    ids.resize(static_cast<size_t>(count));
    count = module().encode(model_->handle, text.data(), text.size(), ids.data(), ids.size(), error, sizeof(error));
  }
  if (count < 0) throw DataError(std::string("cannot tokenize the text: ") + error);
  return {ids.begin(), ids.begin() + count};
}

std::vector<int64_t> T5Tokenizer::input_ids(const std::string& text, int64_t max_length) const {
  if (max_length < 1) throw UsageError("T5 max length must be at least 1");
  std::vector<int64_t> ids = encode(text);
  if (static_cast<int64_t>(ids.size()) > max_length - 1) ids.resize(static_cast<size_t>(max_length - 1));
  ids.push_back(kEos);
  ids.resize(static_cast<size_t>(max_length), kPad);
  return ids;
}

}  // namespace untwist
