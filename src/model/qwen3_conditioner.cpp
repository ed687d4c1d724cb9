#include "model/qwen3_conditioner.h"

#include "io/component_files.h"
#include "util/memory.h"

namespace untwist {

Qwen3Conditioner::Qwen3Conditioner(Qwen3TextFiles files, bool low_memory)
    : files_(std::move(files)), low_memory_(low_memory), tokenizer_(Qwen3Tokenizer::load(files_.tokenizer)) {}

void Qwen3Conditioner::check_encoder() { load_encoder(/*check_only=*/low_memory_); }

void Qwen3Conditioner::load_encoder(bool check_only) {
  const Weights weights = load_component(files_.text_encoder);
  const Qwen3Config config = detect_qwen3_config(weights);
  const std::vector<int64_t> layers = layers_for(config);
  if (!check_only) encoder_ = std::make_unique<Qwen3TextEncoder>(weights, config, layers);
}

std::pair<at::Tensor, at::Tensor> Qwen3Conditioner::tokenize(
    const std::vector<std::string>& prompts, const std::function<std::string(const std::string&)>& chat,
    int64_t max_length) const {
  std::vector<int64_t> ids, mask;
  for (const auto& prompt : prompts) {
    const Qwen3InputIds tokens = tokenizer_.input_ids(chat(prompt), max_length);
    ids.insert(ids.end(), tokens.ids.begin(), tokens.ids.end());
    mask.insert(mask.end(), tokens.attention_mask.begin(), tokens.attention_mask.end());
  }
  const int64_t batch = static_cast<int64_t>(prompts.size());
  return {at::tensor(ids).reshape({batch, max_length}), at::tensor(mask).reshape({batch, max_length})};
}

at::Tensor Qwen3Conditioner::with_encoder(const std::function<at::Tensor(const Qwen3TextEncoder&)>& encode) {
  if (!encoder_) load_encoder(/*check_only=*/false);
  const at::Tensor output = require_finite_output(encode(*encoder_), files_.text_encoder, "the Qwen3 text encoder");
  if (low_memory_) encoder_.reset();
  return_free_memory_to_system();
  return output;
}

}  // namespace untwist
