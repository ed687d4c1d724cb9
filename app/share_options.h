// The sharing flags every command that samples a style-aligned set accepts:
// --share/--mode, --blocks, --s-hf, --s-lf, --beta, --axis0, --curve,
// --window, --adain.
#pragma once
#include <CLI/CLI.hpp>
#include <string>

#include "share/share_settings.h"

namespace untwist {

struct ShareFlags {
  std::string mode;  // empty: not given
  std::string blocks = "default";
  std::string s_hf = "0.25:0.75", s_lf = "1.0:1.4";
  double beta = 2.0;
  std::string axis0 = "flat", curve = "linear", window = "0:1";
  double adain = 0.0;

  // Registers the flags; `mode_flag` is "--share" or "--mode".
  void add_to(CLI::App& command, const std::string& mode_flag);
  // UsageError on a bad value.
  ShareSettings settings() const;
};

}  // namespace untwist
