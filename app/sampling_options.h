// The sampling flags, defined once for every command that samples:
// --steps, --guidance, --cfg-truncation, --cfg-normalization, --shift/--no-shift.
#pragma once
#include <CLI/CLI.hpp>
#include <string>

#include "sample/sampling_settings.h"

namespace untwist {

// Registers the flags writing into `settings` (which must outlive the
// command); `steps_help` says what --steps means to this command.
void add_sampling_options(CLI::App& command, SamplingSettings& settings, const std::string& steps_help);

}  // namespace untwist
