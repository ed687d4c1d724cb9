#include "pipeline/inversion.h"

#include <cmath>
#include <limits>
#include <memory>
#include <tuple>

#include "sample/dit_sampler.h"
#include "util/errors.h"

namespace untwist {

DitInputs prompt_conditioning(const Pipeline& pipeline, const TextConditioning& text, const ImageSettings& settings) {
  const DiffusionTransformer& dit = *pipeline.dit;
  const auto [rows, cols] = token_grid_for(pipeline, settings);
  DitInputs conditioning;
  conditioning.img_ids = dit.image_ids(1, rows, cols);
  conditioning.txt = text.txt;
  conditioning.txt_mask = text.mask;
  conditioning.txt_ids = dit.text_ids(1, text.txt.size(1));
  conditioning.y = text.y;
  conditioning.guidance = at::full({1}, settings.guidance_for(dit));
  return conditioning;
}

VelocityFn conditional_velocity(const DiffusionTransformer& model, const DitInputs& conditioning, int steps,
                                std::function<void()> on_call) {
  if (model.guidance_embedded() && !conditioning.guidance.defined()) {
    throw InputError("a guidance-embedded model needs a guidance value");
  }
  struct Call {
    DitInputs inputs;
    at::Tensor pe;
  };
  auto call = std::make_shared<Call>(Call{conditioning, {}});  // the table once the state's shape is known
  return [&model, call, steps, on_call = std::move(on_call)](const at::Tensor& state, double t, int step) {
    DitInputs& inputs = call->inputs;
    if (state.dim() != 3 || state.size(0) != inputs.txt.size(0) || state.size(1) != inputs.img_ids.size(1)) {
      throw InputError("the latent " + shape_string(state.sizes().vec()) + " does not fit the conditioning's " +
                       std::to_string(inputs.txt.size(0)) + " rows of " + std::to_string(inputs.img_ids.size(1)) +
                       " image tokens");
    }
    inputs.img = state;
    inputs.timesteps = at::full({state.size(0)}, t);
    if (!call->pe.defined()) call->pe = model.position_table(inputs);
    const at::Tensor velocity = model.forward(inputs, call->pe);
    require_finite_velocity(velocity, model, inputs, call->pe, nullptr, step, steps);
    if (on_call) on_call();
    return velocity;
  };
}

ImageInversion invert_image(const Pipeline& pipeline, const at::Tensor& image, const TextConditioning& text,
                            const ImageSettings& settings, InversionSolver solver, std::function<void()> on_call,
                            std::vector<double> times) {
  ImageInversion inversion;
  const TokenGrid grid = image_token_grid(pipeline, image);
  inversion.rows = grid.rows;
  inversion.cols = grid.cols;
  const at::Tensor clean = encode_image_tokens(pipeline, image);  // [1, rows*cols, C]
  inversion.conditioning = prompt_conditioning(pipeline, text, settings);
  inversion.conditioning.img_ids = pipeline.dit->image_ids(1, grid.rows, grid.cols);
  inversion.times = times.empty() ? settings.times(*pipeline.dit, grid.rows * grid.cols) : std::move(times);
  const int steps = static_cast<int>(inversion.times.size()) - 1;
  const VelocityFn velocity = conditional_velocity(*pipeline.dit, inversion.conditioning, steps, std::move(on_call));
  inversion.trajectory = invert_trajectory(velocity, clean, inversion.times, solver);
  return inversion;
}

at::Tensor reference_inversion_path(const Pipeline& pipeline, const at::Tensor& image, const TextConditioning& caption,
                                    const ImageSettings& settings, InversionSolver solver,
                                    std::function<void()> on_call) {
  const auto [rows, cols] = token_grid_for(pipeline, settings);
  const ImageInversion inversion = invert_image(pipeline, image, caption, settings, solver, std::move(on_call),
                                                settings.times(*pipeline.dit, rows * cols));
  return inversion.trajectory.select(1, 0);  // [T + 1, L, C]
}

at::Tensor regenerate_tokens(const Pipeline& pipeline, const ImageInversion& inversion, InversionSolver solver,
                             std::function<void()> on_call) {
  const int steps = static_cast<int>(inversion.times.size()) - 1;
  const VelocityFn velocity = conditional_velocity(*pipeline.dit, inversion.conditioning, steps, std::move(on_call));
  return sample_with_solver(velocity, inversion.trajectory[0], inversion.times, solver);
}

double image_psnr(const at::Tensor& image, const at::Tensor& reference) {
  if (image.sizes() != reference.sizes()) {
    throw InputError("PSNR of images of different shapes: " + shape_string(image.sizes().vec()) + " and " +
                     shape_string(reference.sizes().vec()));
  }
  const double mse = (image.to(at::kDouble) - reference.to(at::kDouble)).pow(2).mean().item<double>();
  if (mse == 0) return std::numeric_limits<double>::infinity();
  return 10.0 * std::log10(1.0 / mse);
}

}  // namespace untwist
