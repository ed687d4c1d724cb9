#include "toy/probe.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/grad_mode.h>

#include <random>

#include "model/toy/pixel_latents.h"
#include "model/toy/toy_text.h"
#include "toy/metrics.h"
#include "toy/toy_checkpoint.h"

namespace untwist::toy {

namespace {

constexpr double kBackgroundTolerance = 0.2, kObjectColourTolerance = 0.25;

at::Tensor rendered(const std::vector<Scene>& scenes) {  // [N, 3, 32, 32]
  std::vector<at::Tensor> images;
  for (const Scene& scene : scenes) images.push_back(render(scene));
  return at::stack(images);
}

}  // namespace

std::vector<std::string> full_prompts(const std::vector<Scene>& scenes, const std::vector<std::string>& vocabulary) {
  const PromptParts parts = named_in(vocabulary, {});
  std::vector<std::string> prompts;
  for (const Scene& scene : scenes) prompts.push_back(prompt_for(scene, parts));
  return prompts;
}

std::vector<Scene> probe_scenes(int count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Scene> scenes;
  for (int i = 0; i < count; ++i) scenes.push_back(random_scene(rng));
  return scenes;
}

PromptFollowing score_prompt_following(const at::Tensor& images, const std::vector<Scene>& scenes) {
  PromptFollowing result;
  result.images = static_cast<int>(scenes.size());
  if (scenes.empty()) return result;
  for (size_t i = 0; i < scenes.size(); ++i) {
    const Scene& scene = scenes[i];
    const at::Tensor image = images[static_cast<int64_t>(i)];
    const auto prompted_background = colour_rgb(scene.background);
    const at::Tensor background = at::tensor({prompted_background[0], prompted_background[1], prompted_background[2]});
    if ((background_colour(image) - background).norm().item<double>() < kBackgroundTolerance) result.background += 1;
    const at::Tensor mask = foreground_mask(image);
    if (!has_object(mask)) continue;
    result.objects += 1;
    const at::Tensor object_colour = mean_colour_inside(render(scene), object_mask(scene));
    if ((mean_colour_inside(image, mask) - object_colour).norm().item<double>() < kObjectColourTolerance) {
      result.object_colour += 1;
    }
    if (texture_of(image, mask) == scene.texture) result.texture += 1;
    if (shows_shape(mask, scene.shape)) result.shape += 1;
    if (cell_of_mask(mask) == cell_of(scene)) result.position += 1;
  }
  const double n = static_cast<double>(scenes.size());
  result.background /= n;
  result.object_colour /= n;
  result.texture /= n;
  result.objects /= n;
  result.shape /= n;
  result.position /= n;
  return result;
}

Denoising denoise_from(const ToyModel& model, const std::vector<Scene>& scenes, double t, uint64_t seed) {
  at::NoGradGuard no_grad;
  const int64_t batch = static_cast<int64_t>(scenes.size());
  const at::Tensor truth = rendered(scenes);
  const at::Tensor x0 = pack_pixels(truth);  // [N, 256, 12]
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  const at::Tensor noise = at::randn(x0.sizes(), generator);
  const at::Tensor xt = (1 - t) * x0 + t * noise;
  const at::Tensor pe = toy_position_table(model, batch);
  const auto predict = [&](const std::vector<Scene>& named) {  // [N, 3, 32, 32]
    const at::Tensor ids = tokenize_batch(model.text().vocabulary, full_prompts(named, model.text().vocabulary));
    const at::Tensor velocity = predict_velocity(model, xt, ids, at::full({batch}, t), pe);
    return unpack_pixels(xt - t * velocity, kTokenSide, kTokenSide);
  };
  const int shapes = static_cast<int>(shape_names().size());
  std::vector<Scene> renamed = scenes;  // each shape named as the one half the list after it: never itself
  for (Scene& scene : renamed) scene.shape = static_cast<Shape>((static_cast<int>(scene.shape) + shapes / 2) % shapes);
  const at::Tensor predicted = predict(scenes), misnamed = predict(renamed);

  Denoising result;
  result.t = t;
  result.clean_mse = (predicted - truth).pow(2).mean().item<double>();
  for (int64_t i = 0; i < batch; ++i) {
    const auto s = static_cast<size_t>(i);
    if (shows_shape(foreground_mask(predicted[i]), scenes[s].shape)) result.shape += 1;
    if (shows_shape(foreground_mask(misnamed[i]), renamed[s].shape)) result.named_shape += 1;
  }
  const double n = static_cast<double>(std::max<int64_t>(batch, 1));
  result.shape /= n;
  result.named_shape /= n;
  return result;
}

}  // namespace untwist::toy
