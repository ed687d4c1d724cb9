// `untwist te`: the text-encoder tensor-level runner used by the golden tests.
#include <iostream>

#include "commands.h"
#include "io/atomic_file.h"
#include "io/safetensors.h"
#include "io/weights.h"
#include "model/clip_text.h"
#include "model/t5_encoder.h"
#include "runner_inputs.h"
#include "util/errors.h"

namespace untwist {

namespace {

struct TeOptions {
  std::string kind, weights, inputs, output;
};

void run_te(const TeOptions& options) {
  refuse_overwriting_inputs(options.output, {options.weights, options.inputs});
  const RunnerInputs inputs(options.inputs);
  const std::vector<std::string> id_names = inputs.names_with_prefix("in.input_ids");
  if (id_names.empty()) fail_file(inputs.path(), "has no 'in.input_ids' tensor");
  const Weights weights = Weights::load(options.weights);

  NamedTensors outputs;
  if (options.kind == "t5") {
    const T5Encoder encoder(weights, detect_t5_config(weights));
    for (const auto& name : id_names) {
      const std::string suffix = name.substr(std::string("in.input_ids").size());  // "", "_long", ...
      outputs.emplace_back("out.last_hidden_state" + suffix, encoder.forward(inputs.integers(name)));
    }
    if (inputs.has("in.attention_mask")) {
      outputs.emplace_back("out.last_hidden_state_masked",
                           encoder.forward(inputs.integers("in.input_ids"), inputs.integers("in.attention_mask")));
    }
  } else {
    const ClipTextModel model(weights, detect_clip_text_config(weights));
    for (const auto& name : id_names) {
      const std::string suffix = name.substr(std::string("in.input_ids").size());
      const ClipTextOutput out = model.forward(inputs.integers(name));
      outputs.emplace_back("out.last_hidden_state" + suffix, out.last_hidden_state);
      outputs.emplace_back("out.pooler_output" + suffix, out.pooler_output);
      outputs.emplace_back("out.eos_position" + suffix, out.eos_position);
      for (size_t i = 0; i < out.hidden_states.size(); ++i) {
        outputs.emplace_back("out.hidden_states_" + std::to_string(i) + suffix, out.hidden_states[i]);
      }
      outputs.emplace_back("out.hidden_states_penultimate" + suffix, out.hidden_states[out.hidden_states.size() - 2]);
    }
  }
  write_safetensors(options.output, outputs);
  std::cout << "wrote " << options.output << "\n";
}

}  // namespace

void add_te_command(CLI::App& app) {
  auto options = std::make_shared<TeOptions>();
  CLI::App* command = app.add_subcommand("te", "Run a text encoder (T5 or CLIP) on token ids from a safetensors file");
  command->add_option("--kind", options->kind, "t5 or clip")->required()->check(CLI::IsMember({"t5", "clip"}));
  command->add_option("--weights", options->weights, "encoder weights (.safetensors, HuggingFace names)")
      ->required()->check(CLI::ExistingFile);
  command->add_option("--inputs", options->inputs, "in.input_ids [B, L] int64 (and in.input_ids_* variants)")
      ->required()->check(CLI::ExistingFile);
  command->add_option("--output", options->output, "where to write out.last_hidden_state (and CLIP's pooler_output)")
      ->required();
  command->callback([options] { naming_inputs_file(options->inputs, [&] { run_te(*options); }); });
}

}  // namespace untwist
