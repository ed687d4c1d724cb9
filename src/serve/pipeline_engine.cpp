#include "serve/pipeline_engine.h"

#include <algorithm>

#include "analysis/copy_meter.h"
#include "analysis/line_plot.h"
#include "analysis/rope_bands.h"
#include "io/image_file.h"
#include "pipeline/inversion.h"
#include "sample/dit_sampler.h"

namespace untwist::serve {

// Shifts the RoPE band plot reaches: a 1024-pixel FLUX image is 64 tokens wide.
constexpr int kRopePlotShifts = 64;

PipelineEngine::PipelineEngine(std::unique_ptr<Pipeline> pipeline, ImageSettings settings, nlohmann::json base_recipe)
    : pipeline_(std::move(pipeline)), settings_(settings), base_recipe_(std::move(base_recipe)) {
  token_grid_for(*pipeline_, settings_);  // a size the autoencoder cannot patch fails before the server starts
}

nlohmann::json PipelineEngine::describe() const {
  const DiffusionTransformer& dit = *pipeline_->dit;
  return {{"model", pipeline_->paths.model},
          {"family", dit.family()},
          {"variant", dit.variant()},
          {"steps", settings_.steps_for(dit)},
          {"blocks", dit.default_shared_blocks()},
          {"size", {settings_.width_for(dit), settings_.height_for(dit)}},
          {"attention", false}};
}

void PipelineEngine::check(const JobRequest& request) const {
  for (ShareMode mode : request.modes) bind_to(request.share_for(mode), *pipeline_->dit);
}

at::Tensor PipelineEngine::fit_reference(const at::Tensor& rgb) const {
  const DiffusionTransformer& dit = *pipeline_->dit;
  return resize_and_crop(rgb, settings_.height_for(dit), settings_.width_for(dit));  // [3, H, W]
}

int PipelineEngine::steps_for(const JobRequest& request) const {
  return request.steps > 0 ? request.steps : settings_.steps_for(*pipeline_->dit);
}

nlohmann::json PipelineEngine::recipe(const JobRequest& request) const {
  nlohmann::json recipe = base_recipe_;
  recipe["steps"] = steps_for(request);
  return recipe;
}

at::Tensor PipelineEngine::invert_reference(const JobRequest& request, const at::Tensor& reference,
                                            const std::function<void()>& on_call) {
  ImageSettings settings = settings_;
  settings.steps = steps_for(request);
  return reference_inversion_path(*pipeline_, reference, pipeline_->text->encode({request.reference_prompt}), settings,
                                  request.reference_solver, on_call);
}

ModeResult PipelineEngine::run(const JobRequest& request, const at::Tensor& reference,
                               const at::Tensor& reference_path, ShareMode mode,
                               const std::function<void(int)>& on_step, const std::string& attention_png) {
  RenderRequest render_request;
  render_request.prompts.push_back(request.reference_prompt);
  render_request.prompts.insert(render_request.prompts.end(), request.targets.begin(), request.targets.end());
  for (size_t i = 0; i < render_request.prompts.size(); ++i) render_request.seeds.push_back(request.seed + i);
  render_request.settings = settings_;
  render_request.settings.steps = steps_for(request);
  const ShareSettings share = request.share_for(mode);
  render_request.share = &share;
  if (reference.defined()) render_request.reference_images = {reference};
  if (reference_path.defined()) render_request.reference_paths = {reference_path};
  render_request.on_step = on_step;
  const auto [grid_h, grid_w] = token_grid_for(*pipeline_, settings_);
  CopyMeter meter(grid_h, grid_w);
  if (mode != ShareMode::None) render_request.observer = &meter;

  ModeResult result;
  result.images = render(*pipeline_, render_request);  // [1 + N, 3, H, W]
  result.metrics.assign(static_cast<size_t>(result.images.size(0)), nlohmann::json::object());
  result.summary = nlohmann::json::object();
  if (!meter.readings().empty()) {
    const CopyReading mean = meter.means();
    result.summary = {{"copy_meter", mean.same_position},
                      {"copy_meter_3x3", mean.neighbourhood},
                      {"reference_mass", mean.reference_total}};
  }
  return result;
}

void PipelineEngine::write_rope_bands(const std::string& path) const {
  const RopeLayout& rope = pipeline_->dit->rope();
  const int axis = std::max(rope.axis(AxisRole::Row), 0);
  write_line_plot(path, rope_band_plot(rope_band_curves(rope.axes_dim, rope.theta, axis, kRopePlotShifts)));
}

}  // namespace untwist::serve
