#include "share/share_settings.h"

#include <cmath>

#include "util/errors.h"

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

}  // namespace

ShareMode parse_share_mode(const std::string& text) {
  for (ShareMode mode : {ShareMode::None, ShareMode::Full, ShareMode::Untwisted, ShareMode::StyleAligned,
                         ShareMode::AlignedGen}) {
    if (text == share_mode_name(mode)) return mode;
  }
  throw UsageError("share mode '" + text + "' is not none, full, untwisted, stylealigned or alignedgen");
}

const char* share_mode_name(ShareMode mode) {
  switch (mode) {
    case ShareMode::None: return "none";
    case ShareMode::Full: return "full";
    case ShareMode::Untwisted: return "untwisted";
    case ShareMode::StyleAligned: return "stylealigned";
    case ShareMode::AlignedGen: return "alignedgen";
  }
  return "?";
}

Axis0Mode parse_axis0(const std::string& text) {
  if (text == "flat") return Axis0Mode::Flat;
  if (text == "match") return Axis0Mode::Match;
  throw UsageError("--axis0 '" + text + "' is not flat or match");
}

Curve parse_curve(const std::string& text) {
  if (text == "linear") return Curve::Linear;
  if (text == "smoothstep") return Curve::Smoothstep;
  if (text == "cosine") return Curve::Cosine;
  throw UsageError("--curve '" + text + "' is not linear, smoothstep or cosine");
}

KnobRange parse_knob_range(const std::string& text, const std::string& option) {
  const size_t colon = text.find(':');
  if (colon == std::string::npos) {
    const double value = parse_number(text, option, text);
    return {value, value};
  }
  return {parse_number(text.substr(0, colon), option, text), parse_number(text.substr(colon + 1), option, text)};
}

}  // namespace untwist
