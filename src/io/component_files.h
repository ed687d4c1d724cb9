// The weights of one model component as users have it: a single safetensors
// or GGUF file, or a diffusers component folder of (sharded) safetensors.
#pragma once
#include <string>
#include <vector>

#include "io/weights.h"

namespace untwist {

// The safetensors files of one diffusers component folder: the shards its
// *.index.json names, else every *.safetensors in it.
std::vector<std::string> component_files(const std::string& folder);

// The weights of one component: a file or a diffusers folder.
Weights load_component(const std::string& path);

// `output` when it is finite; else a DataError naming the component's file
// (and its first weight holding NaN or Inf) and `what` produced it.
const at::Tensor& require_finite_output(const at::Tensor& output, const std::string& component, const std::string& what);

}  // namespace untwist
