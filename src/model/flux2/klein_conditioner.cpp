#include "model/flux2/klein_conditioner.h"

#include "util/errors.h"

namespace untwist {

const std::vector<int64_t>& KleinConditioner::output_layers() {
  static const std::vector<int64_t> layers{9, 18, 27};
  return layers;
}

KleinConditioner::KleinConditioner(Qwen3TextFiles files, int64_t context_in_dim, bool low_memory)
    : Qwen3Conditioner(files, low_memory), context_in_dim_(context_in_dim), text_encoder_(files.text_encoder) {
  check_encoder();
}

std::vector<int64_t> KleinConditioner::layers_for(const Qwen3Config& config) const {
  const int64_t width = static_cast<int64_t>(output_layers().size()) * config.hidden_size;
  if (width != context_in_dim_) {
    fail_file(text_encoder_, "Qwen3 width " + std::to_string(config.hidden_size) + " x 3 layers = " +
                                 std::to_string(width) + " does not fit the transformer's context_in_dim " +
                                 std::to_string(context_in_dim_));
  }
  if (config.num_layers < output_layers().back()) {
    fail_file(text_encoder_, "has " + std::to_string(config.num_layers) +
                                 " layers; FLUX.2 [klein] reads the hidden states of layers 9, 18 and 27");
  }
  return output_layers();
}

TextConditioning KleinConditioner::encode(const std::vector<std::string>& prompts) {
  const auto [ids, mask] = tokenize(prompts, Qwen3Tokenizer::chat_text, kMaxLength);
  TextConditioning conditioning;
  conditioning.txt = with_encoder([&, &ids = ids, &mask = mask](const Qwen3TextEncoder& encoder) {
    return encoder.context(ids, mask);  // [B, 512, 3 * hidden]
  });
  return conditioning;
}

}  // namespace untwist
