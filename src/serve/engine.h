// What the server runs jobs on: a loaded model that turns a checked request
// into one style-aligned set per sharing mode, with the metrics it can
// measure. The model stays loaded between jobs; one job runs at a time.
#pragma once
#include <ATen/ATen.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "serve/job_request.h"

namespace untwist::serve {

struct ModeResult {
  at::Tensor images;                  // [1 + N, 3, H, W] in [0, 1]: row 0 the reference, then the targets
  std::vector<nlohmann::json> metrics;  // one object per row
  nlohmann::json summary;             // the set's measurements (means over targets)
};

class Engine {
 public:
  virtual ~Engine() = default;

  // {"model": ..., "family": ..., "steps": default steps, "attention": whether maps can be drawn}
  virtual nlohmann::json describe() const = 0;
  // UsageError when this model cannot run the request (a word the toy does
  // not know, blocks the model lacks), before it is queued.
  virtual void check(const JobRequest& request) const = 0;
  // [3, H, W] in [0, 1] of any size -> the reference at the model's image size.
  virtual at::Tensor fit_reference(const at::Tensor& rgb) const = 0;
  virtual int steps_for(const JobRequest& request) const = 0;
  // What every image of the job shares: model, size, steps.
  virtual nlohmann::json recipe(const JobRequest& request) const = 0;
  // The fitted reference image inverted under the reference's caption on
  // the job's schedule (request.reference_solver): its latent path [T + 1,
  // L, C] for run(). on_call runs after each model call and may throw to stop.
  virtual at::Tensor invert_reference(const JobRequest& request, const at::Tensor& reference,
                                      const std::function<void()>& on_call) = 0;
  // One set under `mode`; `reference` is undefined for a prompt reference,
  // `reference_path` its inversion's path, or undefined to noise it along the
  // schedule. on_step runs after each sampling step and may throw to stop
  // the set. A non-empty attention_png (shared modes only): also draw there
  // where a target looks, when the model can.
  virtual ModeResult run(const JobRequest& request, const at::Tensor& reference, const at::Tensor& reference_path,
                         ShareMode mode, const std::function<void(int)>& on_step, const std::string& attention_png) = 0;
  // The RoPE band plot (paper Fig. 1) of this model's row axis.
  virtual void write_rope_bands(const std::string& path) const = 0;
};

}  // namespace untwist::serve
