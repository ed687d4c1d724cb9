#include "serve/toy_engine.h"

#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <optional>
#include <sstream>

#include "analysis/attention_figure.h"
#include "analysis/attention_maps.h"
#include "analysis/line_plot.h"
#include "analysis/rope_bands.h"
#include "io/image_file.h"
#include "model/toy/pixel_latents.h"
#include "model/toy/toy_text.h"
#include "pipeline/inversion.h"
#include "sample/dit_sampler.h"
#include "toy/metrics.h"
#include "toy/toy_sampler.h"
#include "toy/world.h"

namespace untwist::serve {

namespace {

// The shape a prompt names ("striped circle on red" -> circle), if any.
std::optional<toy::Shape> named_shape(const std::string& prompt) {
  std::istringstream words(prompt);
  std::string word;
  const auto& names = toy::shape_names();
  while (words >> word) {
    for (size_t i = 0; i < names.size(); ++i) {
      if (word == names[i]) return static_cast<toy::Shape>(i);
    }
  }
  return std::nullopt;
}

// Copying (mask IoU with the reference), style distance, and whether the
// target drew an object of the shape it asked for.
nlohmann::json target_metrics(const at::Tensor& image, const at::Tensor& reference_mask,
                              const toy::StyleStats& reference_style, const std::string& prompt) {
  const at::Tensor mask = toy::foreground_mask(image);
  const bool object = toy::has_object(mask);
  nlohmann::json metrics = {{"copy_iou", toy::mask_iou(mask, reference_mask)},
                            {"style_distance", toy::style_distance(toy::style_stats(image), reference_style)},
                            {"object", object}};
  if (object) metrics["shape_seen"] = toy::shape_names()[static_cast<size_t>(toy::classify_shape(mask).shape)];
  if (const auto asked = named_shape(prompt)) metrics["shape_correct"] = toy::shows_shape(mask, *asked);
  return metrics;
}

nlohmann::json summary_of(const std::vector<nlohmann::json>& metrics) {
  double copy = 0, style = 0, objects = 0, correct = 0;
  int targets = 0, asked = 0;
  for (size_t i = 1; i < metrics.size(); ++i) {
    copy += metrics[i]["copy_iou"].get<double>();
    style += metrics[i]["style_distance"].get<double>();
    objects += metrics[i]["object"].get<bool>() ? 1 : 0;
    if (metrics[i].contains("shape_correct")) {
      correct += metrics[i]["shape_correct"].get<bool>() ? 1 : 0;
      ++asked;
    }
    ++targets;
  }
  nlohmann::json summary = {{"copy_iou", copy / targets}, {"style_distance", style / targets},
                            {"object_rate", objects / targets}};
  if (asked > 0) summary["shape_accuracy"] = correct / asked;
  return summary;
}

}  // namespace

ToyEngine::ToyEngine(const std::string& model_path) : model_path_(model_path), model_(toy::load_toy(model_path)) {}

nlohmann::json ToyEngine::describe() const {
  const std::vector<std::string>& words = model_.text().vocabulary;
  return {{"model", "toy"},
          {"family", model_.dit->family()},
          {"file", model_path_},
          {"steps", kToyServeSteps},
          {"blocks", toy::kDefaultSharedBlocks},
          {"size", {toy::kImageSize, toy::kImageSize}},
          {"attention", true},
          {"vocabulary", std::vector<std::string>(words.begin() + 1, words.end())}};  // without "<pad>"
}

void ToyEngine::check(const JobRequest& request) const {
  toy::tokenize(model_.text().vocabulary, request.reference_prompt);
  for (const auto& target : request.targets) toy::tokenize(model_.text().vocabulary, target);
  for (ShareMode mode : request.modes) bind_to(request.share_for(mode), *model_.dit);
}

at::Tensor ToyEngine::fit_reference(const at::Tensor& rgb) const {
  return resize_and_crop(rgb, toy::kImageSize, toy::kImageSize);  // [3, 32, 32]
}

int ToyEngine::steps_for(const JobRequest& request) const { return request.steps > 0 ? request.steps : kToyServeSteps; }

nlohmann::json ToyEngine::recipe(const JobRequest& request) const {
  return {{"family", "toy"}, {"model", model_path_}, {"width", toy::kImageSize}, {"height", toy::kImageSize},
          {"steps", steps_for(request)}};
}

at::Tensor ToyEngine::invert_reference(const JobRequest& request, const at::Tensor& reference,
                                       const std::function<void()>& on_call) {
  const int steps = steps_for(request);
  const VelocityFn velocity =
      conditional_velocity(*model_.dit, toy::toy_inputs(model_, {request.reference_prompt}), steps, on_call);
  const at::Tensor clean = toy::pack_pixels(reference.unsqueeze(0));  // [1, L, 12]
  at::NoGradGuard no_grad;
  return invert_trajectory(velocity, clean, toy::times_for(model_, steps), request.reference_solver).select(1, 0);
}

ModeResult ToyEngine::run(const JobRequest& request, const at::Tensor& reference, const at::Tensor& reference_path,
                          ShareMode mode, const std::function<void(int)>& on_step, const std::string& attention_png) {
  toy::ToyRequest toy_request;
  toy_request.prompts.push_back(request.reference_prompt);
  toy_request.prompts.insert(toy_request.prompts.end(), request.targets.begin(), request.targets.end());
  for (size_t i = 0; i < toy_request.prompts.size(); ++i) toy_request.seeds.push_back(request.seed + i);
  toy_request.steps = steps_for(request);
  ShareSettings share = request.share_for(mode);
  if (request.blocks == "default") share.blocks = SharePlan::parse(toy::kDefaultSharedBlocks);
  toy_request.share = &share;
  toy_request.reference_image = reference;
  toy_request.reference_path = reference_path;
  toy_request.on_step = on_step;
  const int64_t side = toy::kImageSize / 2;
  AttentionCapture capture(toy_request.steps / 3, BlockRef{"single", 1}, 1);
  if (!attention_png.empty()) toy_request.observer = &capture;

  ModeResult result;
  result.images = toy::sample_toy(model_, toy_request);  // [1 + N, 3, 32, 32]
  const at::Tensor reference_mask = toy::foreground_mask(result.images[0]);
  const toy::StyleStats reference_style = toy::style_stats(result.images[0]);
  result.metrics.push_back({{"object", toy::has_object(reference_mask)}});
  for (size_t i = 1; i < toy_request.prompts.size(); ++i) {
    result.metrics.push_back(target_metrics(result.images[static_cast<int64_t>(i)], reference_mask, reference_style,
                                            toy_request.prompts[i]));
  }
  result.summary = summary_of(result.metrics);
  if (capture.captured()) {
    const auto maps = attention_maps(capture, model_.dit->config().axes_dim, side, side, {{4, 4}, {8, 8}, {11, 11}});
    const at::Tensor large = at::upsample_nearest2d(result.images, {128, 128});  // [1 + N, 3, 128, 128]
    write_attention_figure(attention_png, maps, large, 1, side, side,
                           std::string(share_mode_name(mode)) + " sharing: where target \"" + request.targets[0] +
                               "\" looks (single:1, step " + std::to_string(toy_request.steps / 3 + 1) + ")");
  }
  return result;
}

void ToyEngine::write_rope_bands(const std::string& path) const {
  const RopeLayout& rope = model_.dit->rope();
  const int axis = std::max(rope.axis(AxisRole::Row), 0);
  write_line_plot(path, rope_band_plot(rope_band_curves(rope.axes_dim, rope.theta, axis, toy::kImageSize / 2 - 1)));
}

}  // namespace untwist::serve
