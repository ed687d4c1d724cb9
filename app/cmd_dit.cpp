// `untwist dit`: the DiT tensor-level runner used by the golden tests.
#include <iostream>

#include "cli_values.h"
#include "commands.h"
#include "io/atomic_file.h"
#include "io/safetensors.h"
#include "io/weights.h"
#include "model/flux.h"
#include "runner_inputs.h"
#include "sample/euler.h"
#include "sample/packing.h"
#include "sample/schedule.h"
#include "util/errors.h"
#include "util/progress.h"

namespace untwist {

namespace {

struct DitOptions {
  std::string weights, inputs, output;
  int steps = 0;
  double guidance = 3.5;
  bool shift = false, no_shift = false;
  std::string axes_dim;
  double theta = 0;
  std::string dtype = "float32";
};

void run_dit(const DitOptions& options) {
  refuse_overwriting_inputs(options.output, {options.weights, options.inputs});
  RopeOverride rope;
  if (!options.axes_dim.empty()) rope.axes_dim = parse_int_list(options.axes_dim, "--axes-dim");
  if (options.theta > 0) rope.theta = options.theta;
  const at::ScalarType dtype = parse_compute_dtype(options.dtype);

  const RunnerInputs inputs(options.inputs);
  const Weights weights = Weights::load(options.weights);
  const FluxModel model(weights, detect_flux_config(weights, rope), dtype);

  FluxInputs in;
  in.img = inputs.required("in.img");
  in.txt = inputs.required("in.txt");
  in.y = inputs.required("in.y");
  const at::Tensor img_ids = inputs.required("in.img_ids");
  const at::Tensor pe = model.position_table(inputs.required("in.txt_ids"), img_ids);
  NamedTensors outputs = {{"out.pe", pe}};

  const int64_t batch = in.img.size(0);
  if (inputs.has("in.timesteps")) {
    in.timesteps = inputs.required("in.timesteps");
    in.guidance = inputs.has("in.guidance") ? inputs.required("in.guidance") : at::full({batch}, options.guidance);
    outputs.emplace_back("out.pred", model.forward(in, pe));
  }
  if (options.steps > 0) {
    const bool shift = options.shift || (!options.no_shift && model.config().guidance_embed);
    const std::vector<double> times = flux_schedule(options.steps, in.img.size(1), shift);
    Progress progress("denoising", options.steps);
    const at::Tensor denoised = euler_sample(in.img, times, [&](const at::Tensor& state, double t, int) {
      FluxInputs step = in;
      step.img = state;
      step.timesteps = at::full({batch}, t);
      step.guidance = at::full({batch}, options.guidance);
      at::Tensor velocity = model.forward(step, pe);
      progress.step();
      return velocity;
    });
    const auto [h, w] = token_grid(img_ids);
    outputs.emplace_back("out.schedule", at::tensor(std::vector<float>(times.begin(), times.end())));
    outputs.emplace_back("out.denoised", denoised);
    outputs.emplace_back("out.denoised_latent", unpack_latents(denoised, h, w));
  }
  write_safetensors(options.output, outputs);
  std::cout << "wrote " << options.output << "\n";
}

}  // namespace

void add_dit_command(CLI::App& app) {
  auto options = std::make_shared<DitOptions>();
  CLI::App* command = app.add_subcommand("dit", "Run the FLUX transformer on tensors from a safetensors file");
  command->add_option("--weights", options->weights, "DiT checkpoint (.safetensors, any supported layout)")
      ->required()->check(CLI::ExistingFile);
  command->add_option("--inputs", options->inputs, "in.* tensors: img, img_ids, txt, txt_ids, y[, timesteps, guidance]")
      ->required()->check(CLI::ExistingFile);
  command->add_option("--output", options->output, "where to write out.* tensors (.safetensors)")->required();
  command->add_option("--steps", options->steps, "also sample with Euler from in.img over N steps")
      ->check(CLI::Range(1, 10000));
  command->add_option("--guidance", options->guidance, "guidance for sampling (guidance-embedded models)")
      ->check(CLI::Range(0.0, 100.0));
  auto* shift = command->add_flag("--shift", options->shift, "force the shifted schedule");
  command->add_flag("--no-shift", options->no_shift, "force the unshifted schedule")->excludes(shift);
  command->add_option("--axes-dim", options->axes_dim, "RoPE axes, e.g. 16,56,56 (else from the file)");
  command->add_option("--theta", options->theta, "RoPE theta (else from the file)")->check(CLI::PositiveNumber);
  command->add_option("--dtype", options->dtype, "compute dtype: float32 or bfloat16")
      ->check(CLI::IsMember({"float32", "bfloat16", "f32", "bf16", "fp32"}));
  command->callback([options] { run_dit(*options); });
}

}  // namespace untwist
