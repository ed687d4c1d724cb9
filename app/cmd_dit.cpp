// `untwist dit`: the DiT tensor-level runner used by the golden tests.
#include <algorithm>
#include <iostream>
#include <optional>

#include "analysis/copy_meter.h"
#include "cli_values.h"
#include "commands.h"
#include "intermediate_dump.h"
#include "io/atomic_file.h"
#include "io/safetensors.h"
#include "io/weights.h"
#include "model/flux1/packing.h"
#include "model/families.h"
#include "util/device.h"
#include "runner_batch.h"
#include "sampling_options.h"
#include "share/knob_schedule.h"
#include "share/reference_positions.h"
#include "share_options.h"
#include "util/errors.h"
#include "util/progress.h"

namespace untwist {

namespace {

struct DitOptions {
  std::string weights, inputs, output;
  SamplingSettings sampling;
  std::string axes_dim;
  double theta = 0;
  std::string dtype = "auto";
  std::string device = "cpu";
  ShareFlags share;
  std::string meter;
  std::vector<double> ref_weights;
  std::vector<std::string> dump;  // NAME_PATTERN DIR
  bool pred = false;              // out.pred beside sampling
};

// "step_07": dump files sort in step order.
std::string step_name(int step) {
  const std::string number = std::to_string(step);
  return "step_" + std::string(number.size() < 2 ? 2 - number.size() : 0, '0') + number;
}

void run_dit(const DitOptions& options) {
  refuse_overwriting_inputs(options.output, {options.weights, options.inputs});
  if (!options.meter.empty()) refuse_overwriting_inputs(options.meter, {options.weights, options.inputs});
  RopeOverride rope;
  if (!options.axes_dim.empty()) rope.axes_dim = parse_axes_dim(options.axes_dim);
  if (options.theta > 0) rope.theta = options.theta;
  const at::Device device = parse_device(options.device);
  const at::ScalarType dtype = parse_compute_dtype(options.dtype, device);
  const bool sharing = !options.share.mode.empty();
  ShareSettings share = options.share.settings();
  share.reference_weights = options.ref_weights;
  const int steps = options.sampling.steps;
  if (!options.meter.empty() && (!sharing || steps == 0)) {
    throw UsageError("--meter records a shared sampling run: give --share and --steps");
  }

  std::optional<IntermediateDump> dump;
  if (!options.dump.empty()) dump.emplace(options.dump[0], options.dump[1]);

  const RunnerInputs inputs(options.inputs);
  const Weights weights = Weights::load(options.weights);
  const std::unique_ptr<DiffusionTransformer> model = load_dit(weights, rope, dtype, device);
  const RunnerBatch batch = read_runner_batch(inputs, *model);
  const ShareSettings bound = sharing ? bind_to(share, *model) : share;
  const auto [h, w] = token_grid(batch.in.img_ids, model->rope());

  DitInputs own = batch.in;  // the image and text alone, without in-context tokens
  own.cond = own.cond_ids = at::Tensor();
  NamedTensors outputs = {{"out.pe", model->position_table(own)}};
  const bool own_grids = std::any_of(batch.ref_ids.begin(), batch.ref_ids.end(),
                                     [](const at::Tensor& ids) { return ids.defined(); });
  // One prediction of in.img at in.timesteps: what the runner does without
  // --steps, and beside sampling only when --pred asks for it.
  const bool predict = batch.in.timesteps.defined() && (steps == 0 || options.pred);
  if (options.pred && !batch.in.timesteps.defined()) {
    throw UsageError("--pred predicts in.img at in.timesteps, which the inputs file lacks");
  }
  if (predict && own_grids) {
    const std::string why = "references on grids of their own are sampled (--steps), not predicted in one call";
    if (options.pred) throw UsageError("--pred: " + why);
    std::cerr << "note: out.pred is left out: " << why << "\n";
  }
  if (predict && !own_grids) {
    DitInputs in = own;  // in-context tokens take part in sampling only
    if (!in.guidance.defined()) in.guidance = at::full({in.img.size(0)}, options.sampling.guidance_for(*model));
    const at::Tensor pe = model->position_table(in);
    std::optional<SharedAttention> hook;
    if (sharing) hook.emplace(shared_attention_for(bound, *model, in.img_ids, 0, std::max(steps, 1)));
    const AttentionHook* attention = hook ? &*hook : nullptr;
    const at::Tensor pred = dump ? model->forward_probed(in, pe, attention, dump->probe())
                                 : model->forward(in, pe, attention);
    if (dump) dump->write("pred");
    require_finite_velocity(pred, *model, in, pe, attention, 0, 0);
    // The latents form wants the reference's own output, the negated velocity.
    outputs.emplace_back("out.pred", batch.latents ? tokens_to_latent(*model, -pred, h, w) : pred);
  }
  if (steps > 0) {
    SamplingSetup setup = sampling_setup(batch, options.sampling, *model);
    if (sharing) setup.share = &share;
    at::Tensor placed;  // the first reference's positions on the targets' grid, where it has its own
    if (!batch.ref_ids.empty() && batch.ref_ids[0].defined()) placed = grid_positions_of(batch.ref_ids[0], model->rope());
    CopyMeter meter(h, w, placed);
    if (!options.meter.empty()) setup.observer = &meter;
    Progress progress("denoising", steps);
    setup.on_step = [&](int step) {
      if (dump) dump->write(step_name(step));
      progress.step();
    };
    if (dump) setup.probe = [&](int) { return dump->probe(); };
    const at::Tensor denoised = sample_dit(*model, setup);
    if (!options.meter.empty()) write_file_atomically(options.meter, meter.to_json().dump(2) + "\n");
    outputs.emplace_back("out.schedule", at::tensor(std::vector<float>(setup.times.begin(), setup.times.end())));
    outputs.emplace_back("out.denoised", batch.latents ? tokens_to_latent(*model, denoised, h, w) : denoised);
    if (model->family() == "flux1") outputs.emplace_back("out.denoised_latent", unpack_latents(denoised, h, w));
  }
  write_safetensors(options.output, outputs);
  std::cout << "wrote " << options.output << "\n";
  if (dump && !dump->unmatched_note().empty()) std::cerr << "warning: " << dump->unmatched_note() << "\n";
}

}  // namespace

void add_dit_command(CLI::App& app) {
  auto options = std::make_shared<DitOptions>();
  CLI::App* command = app.add_subcommand("dit", "Run a diffusion transformer (FLUX.1, FLUX.2, Z-Image) on tensors from a safetensors file");
  command->add_option("--weights", options->weights, "DiT checkpoint (.safetensors, any supported layout)")
      ->required()->check(CLI::ExistingFile);
  command->add_option("--inputs", options->inputs,
                      "in.* tensors: img, img_ids, txt, txt_ids[, y, timesteps, guidance, noise, img_cond_seq, "
                      "img_cond_seq_ids, ref_latent or ref_latent_K with ref_img_ids_K (and ref_noise_K on a grid of its own)]; or latents/noise, cap_feats_N[, timesteps, neg_cap_feats]")
      ->required()->check(CLI::ExistingFile);
  command->add_option("--output", options->output, "where to write out.* tensors (.safetensors)")->required();
  add_sampling_options(*command, options->sampling, "Euler sampling steps (default: none, the single prediction only)");
  command->add_flag("--pred", options->pred,
                    "with --steps, also write out.pred (one prediction of in.img at in.timesteps); without --steps "
                    "it is written whenever the file has in.timesteps");
  command->add_option("--axes-dim", options->axes_dim, "RoPE axes, e.g. 16,56,56 (else from the file)")
      ->check(parsed_by([](const std::string& text) { parse_axes_dim(text); }));
  command->add_option("--theta", options->theta, "RoPE theta (else from the file)")->check(finite_range(1e-3, 1e9));
  add_dtype_option(*command, options->dtype);
  command->add_option("--device", options->device, "where the transformer runs: cpu, cuda or cuda:N");
  options->share.add_to(*command, "--share");
  command->add_option("--ref-weights", options->ref_weights,
                      "with --share: W0,W1,...: the first rows are that many references of these weights (log w on "
                      "their attention logits); default one reference of weight 1")
      ->delimiter(',')->check(finite_range(0.0, 1000.0));
  command->add_option("--meter", options->meter, "record the copying meter per block and step as JSON");
  command->add_option("--dump", options->dump,
                      "NAME_PATTERN DIR: write the forward passes' intermediates whose names match the glob "
                      "(img_in, double_blocks.N.img, single_blocks.N, final_layer, ...) to DIR/pred.safetensors "
                      "and DIR/step_NN.safetensors")
      ->expected(2)->type_name("NAME_PATTERN DIR");
  command->callback([options] { naming_inputs_file(options->inputs, [&] { run_dit(*options); }); });
}

}  // namespace untwist
