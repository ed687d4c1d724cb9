// FLUX.1's text conditioning: T5-XXL states as context tokens (padded to
// t5_max_length) and CLIP-L's pooled vector.
#pragma once
#include <memory>
#include <string>

#include "model/clip_text.h"
#include "model/clip_tokenizer.h"
#include "model/t5_encoder.h"
#include "model/t5_tokenizer.h"
#include "model/text_conditioner.h"

namespace untwist {

struct T5ClipFiles {
  std::string t5, clip, t5_tokenizer, clip_tokenizer;
};

class T5ClipConditioner : public TextConditioner {
 public:
  // Checks the encoders fit the transformer (T5 width = context_in_dim, CLIP
  // width = vec_in_dim; DataError naming the file) and, unless low_memory,
  // loads them. With low_memory they exist only while they encode.
  T5ClipConditioner(T5ClipFiles files, int64_t context_in_dim, int64_t vec_in_dim, int64_t t5_max_length,
                     bool low_memory);
  TextConditioning encode(const std::vector<std::string>& prompts) override;

 private:
  void load_encoders(bool check_only);

  T5ClipFiles files_;
  int64_t context_in_dim_, vec_in_dim_, t5_max_length_;
  bool low_memory_;
  T5Tokenizer t5_tokenizer_;
  ClipTokenizer clip_tokenizer_;
  std::unique_ptr<T5Encoder> t5_;
  std::unique_ptr<ClipTextModel> clip_;
};

}  // namespace untwist
