// The knobs at each sampler step (METHOD section 3): progress p = i/(n-1)
// (0 when n = 1) moves s_hf and s_lf from start to end along a curve; outside
// the active window targets do not share.
#pragma once
#include "share/share_settings.h"

namespace untwist {

struct StepKnobs {
  bool active = true;
  double s_hf = 1.0, s_lf = 1.0;
};

double step_progress(int step, int steps);
// linear p, smoothstep 3p^2 - 2p^3, cosine (1 - cos(pi p)) / 2
double curve_value(Curve curve, double progress);
StepKnobs knobs_at(const ShareSettings& settings, int step, int steps);

}  // namespace untwist
