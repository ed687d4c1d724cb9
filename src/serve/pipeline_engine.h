// The server's engine for real checkpoints: the pipeline the style command
// runs, loaded once. It cannot tell what its images show, so its measurement
// is the copying meter: how much target attention lands on the reference
// token at the same position.
#pragma once
#include <memory>

#include "pipeline/image_set.h"
#include "serve/engine.h"

namespace untwist::serve {

class PipelineEngine : public Engine {
 public:
  // base_recipe: the model files and settings every image's recipe names.
  PipelineEngine(std::unique_ptr<Pipeline> pipeline, ImageSettings settings, nlohmann::json base_recipe);

  nlohmann::json describe() const override;
  void check(const JobRequest& request) const override;
  at::Tensor fit_reference(const at::Tensor& rgb) const override;
  int steps_for(const JobRequest& request) const override;
  nlohmann::json recipe(const JobRequest& request) const override;
  at::Tensor invert_reference(const JobRequest& request, const at::Tensor& reference,
                              const std::function<void()>& on_call) override;
  ModeResult run(const JobRequest& request, const at::Tensor& reference, const at::Tensor& reference_path,
                 ShareMode mode, const std::function<void(int)>& on_step, const std::string& attention_png) override;
  void write_rope_bands(const std::string& path) const override;

 private:
  std::unique_ptr<Pipeline> pipeline_;
  ImageSettings settings_;
  nlohmann::json base_recipe_;
};

}  // namespace untwist::serve
