// Parsing of option values that CLI11's own types do not cover.
#pragma once
#include <ATen/ATen.h>

#include <CLI/CLI.hpp>
#include <functional>
#include <cstdint>
#include <string>
#include <vector>

namespace untwist {

// "16,56,56" -> {16, 56, 56}: the --axes-dim value, every axis positive and even.
std::vector<int64_t> parse_axes_dim(const std::string& text);

// The --dtype option into `dtype`, checked against the names
// parse_compute_dtype takes; the default is what `dtype` holds.
CLI::Option* add_dtype_option(CLI::App& command, std::string& dtype);

// "auto" | "float32" | "bfloat16" (also "f32", "fp32", "bf16") -> the compute
// dtype on `device`. auto: bfloat16 on a CPU with native bfloat16 matmul,
// float32 on other CPUs and on GPUs. Explicit bfloat16 on a CPU without it
// warns once on stderr.
at::ScalarType parse_compute_dtype(const std::string& text, const at::Device& device);

// The compute dtype's --dtype name: "float32", "bfloat16".
std::string dtype_name(at::ScalarType dtype);

// A CLI11 check running `parse` on the value while the command line is read:
// its UsageError becomes a parse error, before anything is loaded.
CLI::Validator parsed_by(const std::function<void(const std::string&)>& parse);

// A CLI11 check that a prompt is valid UTF-8.
CLI::Validator utf8_text();

// A CLI11 check for a finite number in [low, high] (CLI::Range lets NaN through).
CLI::Validator finite_range(double low, double high);

// "a | b | c", for a flag's help.
std::string joined_names(const std::vector<std::string>& names);

}  // namespace untwist
