// The flags of the commands that run a whole pipeline (generate, style):
// component files, image size and sampling, seed, dtype, device, memory, output folder.
#pragma once
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "pipeline/components.h"
#include "pipeline/image_set.h"

namespace untwist {

struct PipelineFlags {
  ComponentPaths paths;
  ImageSettings settings;
  int64_t t5_max_length = 0;
  uint64_t seed = 42;
  bool low_memory = false;
  std::string device = "cpu";
  std::string dtype = "auto";
  std::string output_dir = "out";

  void add_to(CLI::App& command);
  // Compute dtype, device and memory mode (UsageError for a bad value).
  LoadSettings load_settings() const;
  // Everything that decided the images, for manifests and PNG text chunks.
  nlohmann::json recipe(const Pipeline& pipeline) const;
};

// "A red Fox!" -> "a-red-fox", at most 40 characters, for file names.
std::string slug(const std::string& prompt);

}  // namespace untwist
