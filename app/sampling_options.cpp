#include "sampling_options.h"

#include "cli_values.h"

namespace untwist {

void add_sampling_options(CLI::App& command, SamplingSettings& settings, const std::string& steps_help) {
  command.add_option("--steps", settings.steps, steps_help)->check(CLI::Range(1, 1000));
  command
      .add_option_function<double>(
          "--guidance", [&settings](double value) { settings.guidance = value; },
          "guidance: embedded (default: FLUX.1 3.5, FLUX.2 dev 4) or classifier-free scale (Z-Image; default 0: "
          "none; it applies above 1)")
      ->check(finite_range(0.0, 100.0));
  command.add_option("--cfg-truncation", settings.cfg_truncation,
                     "classifier-free guidance (Z-Image): none once 1 - t (0 = noise) is above this")
      ->check(finite_range(0.0, 100.0))->capture_default_str();
  command.add_option("--cfg-normalization", settings.cfg_normalization,
                     "classifier-free guidance (Z-Image): cut each guided velocity to this times its conditional "
                     "norm (0: off)")
      ->check(finite_range(0.0, 100.0))->capture_default_str();
  auto* on = command.add_flag_callback("--shift", [&settings] { settings.shift = true; },
                                       "FLUX.1: force the shifted schedule");
  command.add_flag_callback("--no-shift", [&settings] { settings.shift = false; },
                            "FLUX.1: force the unshifted schedule")
      ->excludes(on);
}

}  // namespace untwist
