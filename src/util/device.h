// The device the transformer and autoencoder run on: "cpu", "cuda" or
// "cuda:N" (a CUDA build of libtorch). Text encoders always run on the CPU.
#pragma once
#include <c10/core/Device.h>

#include <string>

namespace untwist {

// UsageError when the name is not a device, when this libtorch has no CUDA,
// or when there is no such GPU.
c10::Device parse_device(const std::string& name);

}  // namespace untwist
