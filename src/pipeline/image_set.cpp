#include "pipeline/image_set.h"

#include <cmath>

#include "io/component_files.h"
#include "io/image_file.h"
#include "sample/dit_sampler.h"
#include "util/errors.h"
#include "util/memory.h"

namespace untwist {

std::pair<int64_t, int64_t> token_grid_for(const Pipeline& pipeline, const ImageSettings& settings) {
  const int64_t patch = pipeline.ae->patch();
  const int64_t width = settings.width_for(*pipeline.dit), height = settings.height_for(*pipeline.dit);
  if (width < patch || height < patch || width % patch || height % patch) {
    throw UsageError("-W/-H must be multiples of " + std::to_string(patch) + ", got " + std::to_string(width) + "x" +
                     std::to_string(height));
  }
  return {height / patch, width / patch};
}

TokenGrid image_token_grid(const Pipeline& pipeline, const at::Tensor& image) {
  const int64_t patch = pipeline.ae->patch();
  if (image.dim() != 3 || image.size(0) != 3 || image.size(1) < patch || image.size(2) < patch ||
      image.size(1) % patch || image.size(2) % patch) {
    throw UsageError("an image for the model must be RGB with sides multiples of " + std::to_string(patch) + ", got " +
                     shape_string(image.sizes().vec()));
  }
  return {image.size(1) / patch, image.size(2) / patch};
}

at::Tensor fit_reference_image(const at::Tensor& image, int64_t height, int64_t width, double scale, int64_t patch) {
  if (!(scale > 0.0) || !std::isfinite(scale)) throw UsageError("a reference's scale must be positive");
  const double area = scale * scale * static_cast<double>(height * width);
  const double aspect = static_cast<double>(image.size(2)) / static_cast<double>(image.size(1));  // W / H
  const auto to_patch = [patch](double side) {
    return std::max<int64_t>(1, std::llround(side / static_cast<double>(patch))) * patch;
  };
  return resize_and_crop(image, to_patch(std::sqrt(area / aspect)), to_patch(std::sqrt(area * aspect)));
}

at::Tensor encode_image_tokens(const Pipeline& pipeline, const at::Tensor& image) {
  const at::Tensor latent = require_finite_output(pipeline.ae->encode(image.unsqueeze(0) * 2 - 1), pipeline.paths.ae,
                                                  "the autoencoder");
  return pipeline.ae->to_tokens(latent);
}

at::Tensor decode_image_tokens(const Pipeline& pipeline, const at::Tensor& tokens, int64_t rows, int64_t cols) {
  return_free_memory_to_system();  // the transformer's working memory is not the decoder's
  const at::Tensor decoded = require_finite_output(pipeline.ae->decode(pipeline.ae->from_tokens(tokens, rows, cols)),
                                                   pipeline.paths.ae, "the autoencoder");
  return ((decoded + 1) / 2).clamp(0, 1);
}

EncodedText encode_text(Pipeline& pipeline, const std::vector<std::string>& prompts, const ImageSettings& settings) {
  EncodedText text;
  text.prompts = pipeline.text->encode(prompts);
  if (pipeline.dit->classifier_free_guidance() && settings.guidance_for(*pipeline.dit) > 1.0) {
    text.negative = pipeline.text->encode({settings.negative_prompt});
  }
  return text;
}

at::Tensor render(Pipeline& pipeline, const RenderRequest& request) {
  const DiffusionTransformer& dit = *pipeline.dit;
  const ImageSettings& s = request.settings;
  const auto [h, w] = token_grid_for(pipeline, s);
  const int64_t batch = static_cast<int64_t>(request.prompts.size());
  if (batch == 0 || request.seeds.size() != request.prompts.size()) throw UsageError("one seed per prompt is needed");

  std::vector<at::Tensor> noise;
  for (uint64_t seed : request.seeds) noise.push_back(pipeline.ae->seeded_noise(seed, h, w));
  const EncodedText encoded = request.text ? EncodedText() : encode_text(pipeline, request.prompts, s);
  const EncodedText& texts = request.text ? *request.text : encoded;
  const TextConditioning& text = texts.prompts;
  if (text.txt.size(0) != batch) throw std::logic_error("encoded prompts do not match the request's");

  SamplingSetup setup;
  setup.noise = at::cat(noise, 0);  // [B, h*w, C]
  setup.conditioning.img_ids = dit.image_ids(batch, h, w);
  setup.conditioning.txt = text.txt;
  setup.conditioning.txt_mask = text.mask;
  setup.conditioning.txt_ids = dit.text_ids(batch, text.txt.size(1));
  setup.conditioning.y = text.y;
  setup.conditioning.guidance = at::full({batch}, s.guidance_for(dit));
  setup.times = s.times(dit, h * w);
  if (texts.negative.txt.defined()) {
    const TextConditioning& negative = texts.negative;  // one for every row
    setup.guidance = {s.guidance_for(dit), s.cfg_truncation, s.cfg_normalization,
                      negative.txt.expand({batch, -1, -1}),
                      negative.mask.defined() ? negative.mask.expand({batch, -1}) : at::Tensor(),
                      negative.y.defined() ? negative.y.expand({batch, -1}) : at::Tensor()};
  }
  setup.share = request.share;
  setup.on_step = request.on_step;
  setup.observer = request.observer;
  for (size_t r = 0; r < request.reference_images.size(); ++r) {
    const at::Tensor& image = request.reference_images[r];
    const at::Tensor given = r < request.reference_paths.size() ? request.reference_paths[r] : at::Tensor();
    at::Tensor path = given, ids;  // a path without an image: on the set's grid
    if (image.defined()) {
      const TokenGrid grid = image_token_grid(pipeline, image);
      const bool own_grid = grid.rows != h || grid.cols != w;
      const at::Tensor noise = own_grid ? pipeline.ae->seeded_noise(request.seeds[r], grid.rows, grid.cols)[0]
                                        : setup.noise[static_cast<int64_t>(r)];
      path = given.defined() ? given : noised_path(encode_image_tokens(pipeline, image)[0], noise, setup.times);
      if (own_grid) {
        ids = reference_grid_ids(dit, grid, {h, w}, request.reference_positions);
      }
    }
    setup.reference_paths.push_back(path);
    setup.reference_ids.push_back(ids);
  }
  if (!request.edit_images.empty()) {
    std::vector<at::Tensor> tokens, ids;
    for (size_t i = 0; i < request.edit_images.size(); ++i) {
      const at::Tensor& image = request.edit_images[i];
      const int64_t rows = image.size(1) / pipeline.ae->patch(), cols = image.size(2) / pipeline.ae->patch();
      tokens.push_back(encode_image_tokens(pipeline, image).expand({batch, rows * cols, -1}));
      ids.push_back(dit.in_context_ids(batch, static_cast<int>(i), rows, cols));
    }
    setup.conditioning.cond = at::cat(tokens, 1);  // [B, L_cond, C]
    setup.conditioning.cond_ids = at::cat(ids, 1);
  }
  const at::Tensor latents = sample_dit(dit, setup);
  at::Tensor images = decode_image_tokens(pipeline, latents, h, w);  // [B, 3, H, W]
  for (size_t r = 0; r < request.reference_images.size(); ++r) {
    const at::Tensor& image = request.reference_images[r];
    if (image.defined()) images[static_cast<int64_t>(r)].copy_(resize_and_crop(image, images.size(2), images.size(3)));
  }
  return images;
}

}  // namespace untwist
