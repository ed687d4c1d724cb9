// `untwist tokenize`: the input ids of a prompt, as one JSON array.
#include <iostream>

#include "cli_values.h"
#include "commands.h"
#include "model/clip_tokenizer.h"
#include "model/qwen3_tokenizer.h"
#include "model/t5_tokenizer.h"
#include "util/errors.h"

namespace untwist {

namespace {

struct TokenizeOptions {
  std::string kind, tokenizer, text;
  int64_t max_length = 0;
  bool chat = false;
};

void run_tokenize(const TokenizeOptions& options) {
  if (options.chat && options.kind != "qwen3") throw UsageError("--chat needs --kind qwen3");
  std::vector<int64_t> ids;
  if (options.kind == "qwen3") {
    const Qwen3Tokenizer tokenizer = Qwen3Tokenizer::load(options.tokenizer);
    const std::string text = options.chat ? Qwen3Tokenizer::chat_text(options.text) : options.text;
    ids = options.max_length ? tokenizer.input_ids(text, options.max_length).ids : tokenizer.encode(text);
  } else if (options.kind == "t5") {
    ids = T5Tokenizer::load(options.tokenizer).input_ids(options.text, options.max_length ? options.max_length : 512);
  } else {
    ids = ClipTokenizer::load(options.tokenizer).input_ids(options.text, options.max_length ? options.max_length : 77);
  }
  std::cout << nlohmann::json(ids).dump() << "\n";
}

}  // namespace

void add_tokenize_command(CLI::App& app) {
  auto options = std::make_shared<TokenizeOptions>();
  CLI::App* command = app.add_subcommand("tokenize", "Print the input ids of a prompt as a JSON array");
  command->add_option("--kind", options->kind, "t5, clip or qwen3")
      ->required()->check(CLI::IsMember({"t5", "clip", "qwen3"}));
  command->add_option("--tokenizer", options->tokenizer,
                      "t5: spiece.model; clip: bpe_simple_vocab_16e6.txt.gz, vocab.json or a tokenizer folder; "
                      "qwen3: tokenizer.json or a folder holding it")
      ->required()->check(CLI::ExistingPath);
  command->add_option("--max-length", options->max_length,
                      "padded length (default: 77 for CLIP, 512 for T5, no padding for Qwen3)")
      ->check(CLI::Range(2, 4096));
  command->add_flag("--chat", options->chat, "qwen3: wrap the prompt in the FLUX.2 [klein] chat template");
  command->add_option("text", options->text, "the prompt")->check(utf8_text())->required();
  command->callback([options] { run_tokenize(*options); });
}

}  // namespace untwist
