// Everything that decides how a style-aligned batch shares attention, and the
// parsing of its command-line spellings (UsageError on bad values).
#pragma once
#include <string>
#include <vector>

#include "share/key_scales.h"
#include "share/share_plan.h"

namespace untwist {

enum class ShareMode { None, Full, Untwisted, StyleAligned, AlignedGen };
enum class Curve { Linear, Smoothstep, Cosine };

struct KnobRange {
  double start, end;
};

struct ShareSettings {
  ShareMode mode = ShareMode::Untwisted;
  SharePlan blocks = SharePlan::parse("default");  // bound to the model by the sampler
  KnobRange s_hf{0.25, 0.75};
  KnobRange s_lf{1.0, 1.4};
  double beta = 2.0;
  Axis0Mode axis0 = Axis0Mode::Flat;
  Curve curve = Curve::Linear;
  KnobRange window{0.0, 1.0};  // progress interval in which targets share
  double adain = 0.0;          // AdaIN strength of target queries/keys (untwisted)
  // One weight per reference (the first rows of the batch); empty: one
  // reference of weight 1.
  std::vector<double> reference_weights;
};

// Each setting's names, one table per kind: parse (UsageError listing the
// names), name, and every name in order (for flag checks and help).
ShareMode parse_share_mode(const std::string& text);
const char* share_mode_name(ShareMode mode);
std::vector<std::string> share_mode_names();
Axis0Mode parse_axis0(const std::string& text);
const char* axis0_name(Axis0Mode axis0);
std::vector<std::string> axis0_names();
Curve parse_curve(const std::string& text);
const char* curve_name(Curve curve);
std::vector<std::string> curve_names();
// "A:B" (start:end) or "A" (constant); `option` names the flag in errors.
KnobRange parse_knob_range(const std::string& text, const std::string& option);

}  // namespace untwist
