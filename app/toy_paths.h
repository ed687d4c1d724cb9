// Where the shipped toy checkpoint is: the given path, else models/toy/ in
// the working folder, else the installed copy (P/share/untwist/models/toy/
// for a binary in P/bin), else the source tree the binary was built in.
#pragma once
#include <CLI/CLI.hpp>

#include <string>

namespace untwist {

std::string find_toy_model(const std::string& given);

// The toy commands' --model option, into `path` (empty: find_toy_model's default).
void add_toy_model_option(CLI::App& command, std::string& path);

}  // namespace untwist
