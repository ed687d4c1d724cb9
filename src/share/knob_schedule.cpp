#include "share/knob_schedule.h"

#include <cmath>

namespace untwist {

double step_progress(int step, int steps) {
  return steps <= 1 ? 0.0 : static_cast<double>(step) / static_cast<double>(steps - 1);
}

double curve_value(Curve curve, double p) {
  switch (curve) {
    case Curve::Linear: return p;
    case Curve::Smoothstep: return p * p * (3.0 - 2.0 * p);
    case Curve::Cosine: return 0.5 * (1.0 - std::cos(M_PI * p));
  }
  return p;
}

StepKnobs knobs_at(const ShareSettings& settings, int step, int steps) {
  const double p = step_progress(step, steps);
  const double c = curve_value(settings.curve, p);
  StepKnobs knobs;
  constexpr double kSlack = 1e-9;
  knobs.active = p >= settings.window.start - kSlack && p <= settings.window.end + kSlack;
  knobs.s_hf = settings.s_hf.start + (settings.s_hf.end - settings.s_hf.start) * c;
  knobs.s_lf = settings.s_lf.start + (settings.s_lf.end - settings.s_lf.start) * c;
  return knobs;
}

}  // namespace untwist
