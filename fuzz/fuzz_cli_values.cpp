// The command line's value parsers on arbitrary strings: knob ranges, share
// modes, block plans, RoPE axes, bounded numbers, prompt text.
#include <CLI/CLI.hpp>

#include "cli_values.h"
#include "share/share_plan.h"
#include "share/share_settings.h"
#include "util/errors.h"

namespace {

template <typename Parse>
void expect_usage_error_or_success(Parse parse) {
  try {
    parse();
  } catch (const untwist::UsageError&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  expect_usage_error_or_success([&] { untwist::parse_knob_range(text, "--s-hf"); });
  expect_usage_error_or_success([&] { untwist::parse_share_mode(text); });
  expect_usage_error_or_success([&] { untwist::parse_axis0(text); });
  expect_usage_error_or_success([&] { untwist::parse_curve(text); });
  expect_usage_error_or_success([&] {
    const auto plan = untwist::SharePlan::parse(text);
    plan.check_against(19, 38);
    plan.spec();
  });
  expect_usage_error_or_success([&] { untwist::parse_axes_dim(text); });
  expect_usage_error_or_success([&] { untwist::parse_compute_dtype(text); });
  std::string value = text;
  untwist::finite_range(0.0, 100.0)(value);
  untwist::utf8_text()(value);
  return 0;
}
