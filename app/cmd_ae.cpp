// `untwist ae`: the autoencoder tensor-level runner used by the golden tests.
#include <iostream>

#include "cli_values.h"
#include "commands.h"
#include "io/atomic_file.h"
#include "io/safetensors.h"
#include "io/weights.h"
#include "model/families.h"
#include "runner_inputs.h"
#include "util/errors.h"

namespace untwist {

namespace {

struct AeOptions {
  std::string weights, inputs, output;
  std::string dtype = "float32";
};

void run_ae(const AeOptions& options) {
  refuse_overwriting_inputs(options.output, {options.weights, options.inputs});
  const at::ScalarType dtype = parse_compute_dtype(options.dtype, at::kCPU);
  const RunnerInputs inputs(options.inputs);
  if (!inputs.has("in.image") && !inputs.has("in.latent")) {
    fail_file(inputs.path(), "has neither 'in.image' (to encode) nor 'in.latent' (to decode)");
  }
  const Weights weights = Weights::load(options.weights);
  const std::unique_ptr<LatentAutoencoder> autoencoder = load_latent_autoencoder(weights, dtype);

  NamedTensors outputs;
  if (inputs.has("in.image")) outputs.emplace_back("out.latent", autoencoder->encode(inputs.required("in.image")));
  if (inputs.has("in.latent")) outputs.emplace_back("out.image", autoencoder->decode(inputs.required("in.latent")));
  write_safetensors(options.output, outputs);
  std::cout << "wrote " << options.output << "\n";
}

}  // namespace

void add_ae_command(CLI::App& app) {
  auto options = std::make_shared<AeOptions>();
  CLI::App* command =
      app.add_subcommand("ae", "Run the FLUX.1 or FLUX.2 autoencoder on tensors from a safetensors file");
  command->add_option("--weights", options->weights, "autoencoder checkpoint (.safetensors, BFL or diffusers)")
      ->required()->check(CLI::ExistingFile);
  command
      ->add_option("--inputs", options->inputs,
                   "in.image [B, 3, H, W] and/or in.latent (FLUX.1 [B, z, h, w], FLUX.2 [B, 4z, h, w])")
      ->required()->check(CLI::ExistingFile);
  command->add_option("--output", options->output, "where to write out.latent / out.image")->required();
  add_dtype_option(*command, options->dtype);
  command->callback([options] { naming_inputs_file(options->inputs, [&] { run_ae(*options); }); });
}

}  // namespace untwist
