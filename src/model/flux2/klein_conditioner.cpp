#include "model/flux2/klein_conditioner.h"

#include "io/component_files.h"
#include "util/errors.h"
#include "util/memory.h"

namespace untwist {

const std::vector<int64_t>& KleinConditioner::output_layers() {
  static const std::vector<int64_t> layers{9, 18, 27};
  return layers;
}

KleinConditioner::KleinConditioner(KleinTextFiles files, int64_t context_in_dim, bool low_memory)
    : files_(std::move(files)),
      context_in_dim_(context_in_dim),
      low_memory_(low_memory),
      tokenizer_(Qwen3Tokenizer::load(files_.tokenizer)) {
  load_encoder(/*check_only=*/low_memory_);
}

void KleinConditioner::load_encoder(bool check_only) {
  const Weights weights = load_component(files_.text_encoder);
  const Qwen3Config config = detect_qwen3_config(weights);
  const int64_t width = static_cast<int64_t>(output_layers().size()) * config.hidden_size;
  if (width != context_in_dim_) {
    fail_file(files_.text_encoder, "Qwen3 width " + std::to_string(config.hidden_size) + " x 3 layers = " +
                                       std::to_string(width) + " does not fit the transformer's context_in_dim " +
                                       std::to_string(context_in_dim_));
  }
  if (config.num_layers < output_layers().back()) {
    fail_file(files_.text_encoder, "has " + std::to_string(config.num_layers) +
                                       " layers; FLUX.2 [klein] reads the hidden states of layers 9, 18 and 27");
  }
  if (!check_only) encoder_ = std::make_unique<Qwen3TextEncoder>(weights, config, output_layers());
}

TextConditioning KleinConditioner::encode(const std::vector<std::string>& prompts) {
  std::vector<int64_t> ids, mask;
  for (const auto& prompt : prompts) {
    const Qwen3InputIds tokens = tokenizer_.input_ids(Qwen3Tokenizer::chat_text(prompt), kMaxLength);
    ids.insert(ids.end(), tokens.ids.begin(), tokens.ids.end());
    mask.insert(mask.end(), tokens.attention_mask.begin(), tokens.attention_mask.end());
  }
  const int64_t batch = static_cast<int64_t>(prompts.size());
  if (!encoder_) load_encoder(/*check_only=*/false);
  TextConditioning conditioning;
  conditioning.txt = require_finite_output(
      encoder_->context(at::tensor(ids).reshape({batch, kMaxLength}), at::tensor(mask).reshape({batch, kMaxLength})),
      files_.text_encoder, "the Qwen3 text encoder");  // [B, 512, 3 * hidden]
  if (low_memory_) encoder_.reset();
  return_free_memory_to_system();
  return conditioning;
}

}  // namespace untwist
