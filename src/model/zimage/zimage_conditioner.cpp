#include "model/zimage/zimage_conditioner.h"

#include "util/errors.h"

namespace untwist {

std::string ZImageConditioner::chat_text(const std::string& prompt) {
  return "<|im_start|>user\n" + prompt + "<|im_end|>\n<|im_start|>assistant\n";
}

ZImageConditioner::ZImageConditioner(Qwen3TextFiles files, int64_t cap_feat_dim, bool low_memory)
    : Qwen3Conditioner(files, low_memory), cap_feat_dim_(cap_feat_dim), text_encoder_(files.text_encoder) {
  check_encoder();
}

std::vector<int64_t> ZImageConditioner::layers_for(const Qwen3Config& config) const {
  if (config.hidden_size != cap_feat_dim_) {
    fail_file(text_encoder_, "Qwen3 width " + std::to_string(config.hidden_size) +
                                 " does not fit the transformer's caption width " + std::to_string(cap_feat_dim_));
  }
  if (config.num_layers < 1) fail_file(text_encoder_, "has no decoder layer");
  return {config.num_layers - 1};
}

TextConditioning ZImageConditioner::encode(const std::vector<std::string>& prompts) {
  const auto [all_ids, all_mask] = tokenize(prompts, chat_text, kMaxLength);
  // Attention is causal and padding comes last, so the real tokens' states do
  // not depend on the padding: the encoder runs up to the longest prompt only.
  const int64_t longest = all_mask.sum(1).max().item<int64_t>();
  const at::Tensor ids = all_ids.narrow(1, 0, longest), mask = all_mask.narrow(1, 0, longest);
  TextConditioning conditioning;
  conditioning.txt = with_encoder([&](const Qwen3TextEncoder& encoder) {
    return encoder.hidden_states(ids, mask).at(0);  // [B, L_longest, hidden]
  });
  conditioning.mask = mask != 0;  // [B, L_longest]
  return conditioning;
}

}  // namespace untwist
