#include "model/flux1/t5_clip_conditioner.h"

#include "io/component_files.h"
#include "util/errors.h"
#include "util/memory.h"

namespace untwist {

namespace {

// A text encoder fits when its width is what the transformer was trained with.
void require_width(const std::string& path, const std::string& found, int64_t value, const std::string& expected,
                   int64_t wanted) {
  if (value != wanted) {
    fail_file(path, found + " " + std::to_string(value) + " does not fit the transformer's " + expected + " " +
                        std::to_string(wanted));
  }
}

}  // namespace

T5ClipConditioner::T5ClipConditioner(T5ClipFiles files, int64_t context_in_dim, int64_t vec_in_dim,
                                     int64_t t5_max_length, bool low_memory)
    : files_(std::move(files)),
      context_in_dim_(context_in_dim),
      vec_in_dim_(vec_in_dim),
      t5_max_length_(t5_max_length),
      low_memory_(low_memory),
      t5_tokenizer_(T5Tokenizer::load(files_.t5_tokenizer)),
      clip_tokenizer_(ClipTokenizer::load(files_.clip_tokenizer)) {
  load_encoders(/*check_only=*/low_memory_);
}

void T5ClipConditioner::load_encoders(bool check_only) {
  {
    const Weights weights = load_component(files_.t5);
    const T5Config t5 = detect_t5_config(weights);
    require_width(files_.t5, "T5 width", t5.d_model, "context_in_dim", context_in_dim_);
    if (!check_only) t5_ = std::make_unique<T5Encoder>(weights, t5);
  }
  {
    const Weights weights = load_component(files_.clip);
    const ClipTextConfig clip = detect_clip_text_config(weights);
    require_width(files_.clip, "CLIP width", clip.width, "vec_in_dim", vec_in_dim_);
    if (!check_only) clip_ = std::make_unique<ClipTextModel>(weights, clip);
  }
}

TextConditioning T5ClipConditioner::encode(const std::vector<std::string>& prompts) {
  std::vector<int64_t> t5_ids, clip_ids;
  for (const auto& prompt : prompts) {
    const auto t5 = t5_tokenizer_.input_ids(prompt, t5_max_length_);
    const auto clip = clip_tokenizer_.input_ids(prompt, 77);
    t5_ids.insert(t5_ids.end(), t5.begin(), t5.end());
    clip_ids.insert(clip_ids.end(), clip.begin(), clip.end());
  }
  const int64_t batch = static_cast<int64_t>(prompts.size());
  if (!t5_ || !clip_) load_encoders(/*check_only=*/false);
  TextConditioning conditioning;
  conditioning.txt = require_finite_output(t5_->forward(at::tensor(t5_ids).reshape({batch, t5_max_length_})),
                                           files_.t5, "the T5 encoder");
  conditioning.y = require_finite_output(clip_->forward(at::tensor(clip_ids).reshape({batch, 77})).pooler_output,
                                         files_.clip, "the CLIP text encoder");
  if (low_memory_) {
    t5_.reset();
    clip_.reset();
  }
  return_free_memory_to_system();  // the encoders' blocks fit nothing the transformer asks for
  return conditioning;
}

}  // namespace untwist
