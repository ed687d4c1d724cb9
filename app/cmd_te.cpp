// `untwist te`: the text-encoder tensor-level runner used by the golden tests.
#include <algorithm>
#include <iostream>
#include <nlohmann/json.hpp>
#include <numeric>

#include "commands.h"
#include "io/atomic_file.h"
#include "io/safetensors.h"
#include "io/weights.h"
#include "model/clip_text.h"
#include "model/qwen3_text.h"
#include "model/t5_encoder.h"
#include "runner_inputs.h"
#include "util/errors.h"

namespace untwist {

namespace {

struct TeOptions {
  std::string kind, weights, inputs, output;
  std::vector<int64_t> layers;  // Qwen3: the hidden states stacked into out.context
};

// --layers, else FLUX.2 [klein]'s layers when the model has them, else the
// weights file's metadata "output_layers".
std::vector<int64_t> qwen3_context_layers(const TeOptions& options, const Weights& weights,
                                          const Qwen3Config& config) {
  if (!options.layers.empty()) return options.layers;
  if (kFlux2KleinQwen3Layers.back() <= config.num_layers) return kFlux2KleinQwen3Layers;
  const auto it = weights.metadata().find("output_layers");
  if (it != weights.metadata().end()) {
    const auto parsed = nlohmann::json::parse(it->second, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_array() && !parsed.empty() &&
        std::all_of(parsed.begin(), parsed.end(), [](const nlohmann::json& v) { return v.is_number_integer(); })) {
      return parsed.get<std::vector<int64_t>>();
    }
  }
  throw UsageError("the model has " + std::to_string(config.num_layers) +
                   " layers, too few for the default 9,18,27 and its metadata names no output_layers: give --layers");
}

// Every hidden state as out.hidden_states_K and the chosen ones stacked as out.context.
void run_qwen3(const TeOptions& options, const Weights& weights, const RunnerInputs& inputs, NamedTensors& outputs) {
  const Qwen3Config config = detect_qwen3_config(weights);
  const std::vector<int64_t> chosen = qwen3_context_layers(options, weights, config);
  for (const int64_t layer : chosen) {
    if (layer < 0 || layer > config.num_layers) {
      throw UsageError("--layers: " + std::to_string(layer) + " is outside 0.." + std::to_string(config.num_layers));
    }
  }
  std::vector<int64_t> every(static_cast<size_t>(config.num_layers + 1));
  std::iota(every.begin(), every.end(), 0);
  const Qwen3TextEncoder encoder(weights, config, every);
  const std::vector<at::Tensor> states =
      encoder.hidden_states(inputs.integers("in.input_ids"), inputs.has("in.attention_mask")
                                                                 ? inputs.integers("in.attention_mask")
                                                                 : at::Tensor());
  for (size_t k = 0; k < states.size(); ++k) outputs.emplace_back("out.hidden_states_" + std::to_string(k), states[k]);
  std::vector<at::Tensor> stacked;
  for (const int64_t layer : chosen) stacked.push_back(states[static_cast<size_t>(layer)]);
  outputs.emplace_back("out.context", stack_on_channels(stacked));
}

void run_te(const TeOptions& options) {
  refuse_overwriting_inputs(options.output, {options.weights, options.inputs});
  const RunnerInputs inputs(options.inputs);
  const std::vector<std::string> id_names = inputs.names_with_prefix("in.input_ids");
  if (id_names.empty()) fail_file(inputs.path(), "has no 'in.input_ids' tensor");
  const Weights weights = Weights::load(options.weights);

  NamedTensors outputs;
  if (options.kind == "qwen3") {
    run_qwen3(options, weights, inputs, outputs);
  } else if (options.kind == "t5") {
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
  CLI::App* command =
      app.add_subcommand("te", "Run a text encoder (T5, CLIP or Qwen3) on token ids from a safetensors file");
  command->add_option("--kind", options->kind, "t5, clip or qwen3")
      ->required()->check(CLI::IsMember({"t5", "clip", "qwen3"}));
  command->add_option("--weights", options->weights, "encoder weights (.safetensors, HuggingFace names)")
      ->required()->check(CLI::ExistingFile);
  command->add_option("--inputs", options->inputs,
                      "in.input_ids [B, L] int64 (and in.input_ids_* variants; Qwen3: in.attention_mask)")
      ->required()->check(CLI::ExistingFile);
  command->add_option("--output", options->output,
                      "where to write out.last_hidden_state (and CLIP's pooler_output; Qwen3: out.hidden_states_K, "
                      "out.context)")
      ->required();
  command->add_option("--layers", options->layers,
                      "Qwen3: hidden states stacked into out.context (default 9,18,27 as FLUX.2 [klein])")
      ->delimiter(',');
  command->callback([options] { naming_inputs_file(options->inputs, [&] { run_te(*options); }); });
}

}  // namespace untwist
