#include "model/zimage/zimage_conditioner.h"

#include "io/component_files.h"
#include "util/errors.h"
#include "util/memory.h"

namespace untwist {

std::string ZImageConditioner::chat_text(const std::string& prompt) {
  return "<|im_start|>user\n" + prompt + "<|im_end|>\n<|im_start|>assistant\n";
}

ZImageConditioner::ZImageConditioner(ZImageTextFiles files, int64_t cap_feat_dim, bool low_memory)
    : files_(std::move(files)),
      cap_feat_dim_(cap_feat_dim),
      low_memory_(low_memory),
      tokenizer_(Qwen3Tokenizer::load(files_.tokenizer)) {
  load_encoder(/*check_only=*/low_memory_);
}

void ZImageConditioner::load_encoder(bool check_only) {
  const Weights weights = load_component(files_.text_encoder);
  const Qwen3Config config = detect_qwen3_config(weights);
  if (config.hidden_size != cap_feat_dim_) {
    fail_file(files_.text_encoder, "Qwen3 width " + std::to_string(config.hidden_size) +
                                       " does not fit the transformer's caption width " + std::to_string(cap_feat_dim_));
  }
  if (config.num_layers < 1) fail_file(files_.text_encoder, "has no decoder layer");
  if (!check_only) {
    encoder_ = std::make_unique<Qwen3TextEncoder>(weights, config, std::vector<int64_t>{config.num_layers - 1});
  }
}

TextConditioning ZImageConditioner::encode(const std::vector<std::string>& prompts) {
  const int64_t batch = static_cast<int64_t>(prompts.size());
  std::vector<int64_t> ids, mask;
  for (const auto& prompt : prompts) {
    const Qwen3InputIds tokens = tokenizer_.input_ids(chat_text(prompt), kMaxLength);
    ids.insert(ids.end(), tokens.ids.begin(), tokens.ids.end());
    mask.insert(mask.end(), tokens.attention_mask.begin(), tokens.attention_mask.end());
  }
  const at::Tensor all_ids = at::tensor(ids).reshape({batch, kMaxLength});
  const at::Tensor all_mask = at::tensor(mask).reshape({batch, kMaxLength});
  // Attention is causal and padding comes last, so the real tokens' states do
  // not depend on the padding: the encoder runs up to the longest prompt only.
  const int64_t longest = all_mask.sum(1).max().item<int64_t>();
  const at::Tensor used_ids = all_ids.narrow(1, 0, longest), used_mask = all_mask.narrow(1, 0, longest);
  if (!encoder_) load_encoder(/*check_only=*/false);
  TextConditioning conditioning;
  conditioning.txt = require_finite_output(encoder_->hidden_states(used_ids, used_mask).at(0), files_.text_encoder,
                                           "the Qwen3 text encoder");  // [B, L_longest, hidden]
  conditioning.mask = used_mask != 0;                                  // [B, L_longest]
  if (low_memory_) encoder_.reset();
  return_free_memory_to_system();
  return conditioning;
}

}  // namespace untwist
