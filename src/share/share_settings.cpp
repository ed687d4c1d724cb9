#include "share/share_settings.h"

#include <cmath>

#include "util/errors.h"
#include "util/named_values.h"

namespace untwist {

namespace {

double parse_number(const std::string& text, const std::string& option, const std::string& whole) {
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || !std::isfinite(value)) {
    throw UsageError(option + ": '" + whole + "' is not a number or START:END");
  }
  return value;
}

constexpr Named<ShareMode> kShareModes[] = {{ShareMode::None, "none"},
                                            {ShareMode::Full, "full"},
                                            {ShareMode::Untwisted, "untwisted"},
                                            {ShareMode::StyleAligned, "stylealigned"},
                                            {ShareMode::AlignedGen, "alignedgen"}};
constexpr Named<Axis0Mode> kAxis0[] = {{Axis0Mode::Flat, "flat"}, {Axis0Mode::Match, "match"}};
constexpr Named<Curve> kCurves[] = {
    {Curve::Linear, "linear"}, {Curve::Smoothstep, "smoothstep"}, {Curve::Cosine, "cosine"}};

}  // namespace

ShareMode parse_share_mode(const std::string& text) { return parse_in(kShareModes, text, "share mode"); }
const char* share_mode_name(ShareMode mode) { return name_in(kShareModes, mode); }
std::vector<std::string> share_mode_names() { return names_of(kShareModes); }
Axis0Mode parse_axis0(const std::string& text) { return parse_in(kAxis0, text, "--axis0"); }
const char* axis0_name(Axis0Mode axis0) { return name_in(kAxis0, axis0); }
std::vector<std::string> axis0_names() { return names_of(kAxis0); }
Curve parse_curve(const std::string& text) { return parse_in(kCurves, text, "--curve"); }
const char* curve_name(Curve curve) { return name_in(kCurves, curve); }
std::vector<std::string> curve_names() { return names_of(kCurves); }

KnobRange parse_knob_range(const std::string& text, const std::string& option) {
  const size_t colon = text.find(':');
  if (colon == std::string::npos) {
    const double value = parse_number(text, option, text);
    return {value, value};
  }
  return {parse_number(text.substr(0, colon), option, text), parse_number(text.substr(colon + 1), option, text)};
}

}  // namespace untwist
