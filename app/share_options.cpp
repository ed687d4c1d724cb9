#include "share_options.h"

#include "cli_values.h"
#include "util/errors.h"

namespace untwist {

namespace {

KnobRange parse_key_scale(const std::string& text, const std::string& option) {
  const KnobRange range = parse_knob_range(text, option);
  if (range.start < 0.0 || range.end < 0.0) throw UsageError(option + " '" + text + "': key scales must not be negative");
  return range;
}

KnobRange parse_window(const std::string& text) {
  const KnobRange window = parse_knob_range(text, "--window");
  if (window.start < 0.0 || window.end > 1.0 || window.start > window.end) {
    throw UsageError("--window '" + text + "': expected A:B with 0 <= A <= B <= 1");
  }
  return window;
}

}  // namespace

void ShareFlags::add_to(CLI::App& command, const std::string& mode_flag) {
  command.add_option(mode_flag, mode, "sharing: " + joined_names(share_mode_names()))
      ->check(CLI::IsMember(share_mode_names()));
  command.add_option("--blocks", blocks,
                     "shared blocks: default (the model's choice; FLUX: single) | all | GROUP | GROUP:A-B,... "
                     "over the model's groups (FLUX: double, single)")
      ->check(parsed_by([](const std::string& text) { SharePlan::parse(text); }))->capture_default_str();
  command.add_option("--s-hf", s_hf, "high-frequency key scale START:END over denoising")
      ->check(parsed_by([](const std::string& text) { parse_key_scale(text, "--s-hf"); }))->capture_default_str();
  command.add_option("--s-lf", s_lf, "low-frequency key scale START:END over denoising")
      ->check(parsed_by([](const std::string& text) { parse_key_scale(text, "--s-lf"); }))->capture_default_str();
  command.add_option("--beta", beta, "ramp exponent from high to low frequencies")
      ->check(finite_range(0.0, 100.0))->capture_default_str();
  command.add_option("--axis0", axis0, "index axis scales: flat (all s_lf) | match (same ramp)")
      ->check(CLI::IsMember(axis0_names()))->capture_default_str();
  command.add_option("--curve", curve, "knob schedule: " + joined_names(curve_names()))
      ->check(CLI::IsMember(curve_names()))->capture_default_str();
  command.add_option("--window", window, "progress interval A:B (0..1) in which targets share")
      ->check(parsed_by([](const std::string& text) { parse_window(text); }))->capture_default_str();
  command.add_option("--adain", adain, "AdaIN strength of target queries/keys (0..1), with untwisted")
      ->check(finite_range(0.0, 1.0))->capture_default_str();
}

ShareSettings ShareFlags::settings() const {
  ShareSettings settings;
  settings.mode = parse_share_mode(mode.empty() ? "untwisted" : mode);
  settings.blocks = SharePlan::parse(blocks);
  settings.s_hf = parse_key_scale(s_hf, "--s-hf");
  settings.s_lf = parse_key_scale(s_lf, "--s-lf");
  settings.beta = beta;
  settings.axis0 = parse_axis0(axis0);
  settings.curve = parse_curve(curve);
  settings.window = parse_window(window);
  settings.adain = adain;
  if (adain > 0.0 && settings.mode != ShareMode::Untwisted) {
    throw UsageError("--adain combines with the untwisted mode only (stylealigned and alignedgen apply full AdaIN)");
  }
  return settings;
}

}  // namespace untwist
