// The server's default engine: the shipped toy model, which renders 32x32
// images in well under a second per set and can measure what it draws, so
// every image gets its copying and style numbers.
#pragma once
#include <string>

#include "serve/engine.h"
#include "model/toy/toy_model.h"

namespace untwist::serve {

// Fewer steps than `untwist demo` by default, so a set on the page comes back
// at once; the request's steps override it.
constexpr int kToyServeSteps = 8;

class ToyEngine : public Engine {
 public:
  explicit ToyEngine(const std::string& model_path);

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
  std::string model_path_;
  toy::ToyModel model_;
};

}  // namespace untwist::serve
