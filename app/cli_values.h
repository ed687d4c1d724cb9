// Parsing of option values that CLI11's own types do not cover.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

namespace untwist {

// "16,56,56" -> {16, 56, 56}; UsageError naming `option` otherwise.
std::vector<int64_t> parse_int_list(const std::string& text, const std::string& option);

// "float32" | "bfloat16" (also "f32", "bf16") -> the compute dtype.
at::ScalarType parse_compute_dtype(const std::string& text);

}  // namespace untwist
