// How a run samples, whatever the family: steps, guidance and schedule, each
// the model's default unless given.
#pragma once
#include <optional>
#include <vector>

#include "model/dit.h"

namespace untwist {

struct SamplingSettings {
  int steps = 0;                   // 0: the model's default
  std::optional<double> guidance;  // the model's default when absent
  std::optional<bool> shift;       // the family's default when absent (FLUX.1 has a choice)
  // Classifier-free guidance, for families whose guidance is a guidance
  // scale (Z-Image; it applies when the guidance is above 1).
  double cfg_truncation = 1.0;     // no guidance once 1 - t (0 = noise) is above this
  double cfg_normalization = 0.0;  // > 0: cut the guided velocity to this times the conditional one's norm

  int steps_for(const DiffusionTransformer& model) const { return steps > 0 ? steps : model.default_steps(); }
  double guidance_for(const DiffusionTransformer& model) const { return guidance.value_or(model.default_guidance()); }
  // The model's schedule for `image_tokens` tokens per image.
  std::vector<double> times(const DiffusionTransformer& model, int64_t image_tokens) const {
    return model.schedule(steps_for(model), image_tokens, shift);
  }
};

}  // namespace untwist
