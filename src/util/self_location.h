// Where the running binary really is, wherever it was invoked from (a
// symlink, PATH, another folder), and where its installed files lie beside it:
// an install prefix P holds P/bin/untwist, P/lib/untwist/ (modules) and
// P/share/untwist/ (data).
#pragma once
#include <filesystem>

namespace untwist {

// The running executable's real path (/proc/self/exe), or "" when unknown.
std::filesystem::path executable_path();

// The folder of the running executable, links resolved ("" when unknown).
std::filesystem::path executable_dir();

// P/lib/untwist for an executable in P/bin: where loadable modules are installed.
std::filesystem::path installed_module_dir();

// P/share/untwist for an executable in P/bin: where shipped data is installed.
std::filesystem::path installed_data_dir();

}  // namespace untwist
