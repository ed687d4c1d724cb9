// `untwist tokenize`: the padded input ids of a prompt, as one JSON array.
#include <iostream>

#include "cli_values.h"
#include "commands.h"
#include "model/clip_tokenizer.h"
#include "model/t5_tokenizer.h"

namespace untwist {

namespace {

struct TokenizeOptions {
  std::string kind, tokenizer, text;
  int64_t max_length = 0;
};

void run_tokenize(const TokenizeOptions& options) {
  std::vector<int64_t> ids;
  if (options.kind == "t5") {
    ids = T5Tokenizer::load(options.tokenizer).input_ids(options.text, options.max_length ? options.max_length : 512);
  } else {
    ids = ClipTokenizer::load(options.tokenizer).input_ids(options.text, options.max_length ? options.max_length : 77);
  }
  std::cout << nlohmann::json(ids).dump() << "\n";
}

}  // namespace

void add_tokenize_command(CLI::App& app) {
  auto options = std::make_shared<TokenizeOptions>();
  CLI::App* command = app.add_subcommand("tokenize", "Print the padded input ids of a prompt as a JSON array");
  command->add_option("--kind", options->kind, "t5 or clip")->required()->check(CLI::IsMember({"t5", "clip"}));
  command->add_option("--tokenizer", options->tokenizer,
                      "t5: spiece.model; clip: bpe_simple_vocab_16e6.txt.gz, vocab.json or a tokenizer folder")
      ->required()->check(CLI::ExistingPath);
  command->add_option("--max-length", options->max_length, "padded length (default: 77 for CLIP, 512 for T5)")
      ->check(CLI::Range(2, 4096));
  command->add_option("text", options->text, "the prompt")->check(utf8_text())->required();
  command->callback([options] { run_tokenize(*options); });
}

}  // namespace untwist
