#include "cli_values.h"

#include <cmath>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <optional>
#include <sstream>

#include "model/text_cleanup.h"
#include "util/blas_check.h"
#include "util/cpu_features.h"
#include "util/errors.h"

namespace untwist {

std::vector<int64_t> parse_axes_dim(const std::string& text) {
  const std::string option = "--axes-dim";
  std::vector<int64_t> values;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    size_t used = 0;
    long long value = 0;
    try {
      value = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != item.size()) {
      throw UsageError(option + ": '" + text + "' is not a comma-separated list of integers");
    }
    values.push_back(value);
  }
  if (values.empty()) throw UsageError(option + ": expected a comma-separated list of integers");
  for (int64_t value : values) {
    if (value <= 0 || value % 2 || value > 4096) {
      throw UsageError(option + " '" + text + "': every axis must be positive, even and at most 4096");
    }
  }
  return values;
}

CLI::Validator parsed_by(const std::function<void(const std::string&)>& parse) {
  return CLI::Validator(
      [parse](std::string& value) -> std::string {
        try {
          parse(value);
        } catch (const UsageError& error) {
          // CLI11 puts the option's name in front; drop the parser's own.
          std::string message = error.what();
          if (message.rfind("--", 0) == 0) {
            const size_t word_end = message.find_first_of(": ");
            message.erase(0, message.find_first_not_of(": ", word_end));
          }
          return message;
        }
        return "";
      },
      "");
}

CLI::Validator utf8_text() {
  return parsed_by([](const std::string& text) {
    const std::string problem = utf8_problem(text);
    if (!problem.empty()) throw UsageError("the text is " + problem);
  });
}

CLI::Validator finite_range(double low, double high) {
  std::ostringstream range;
  range << "a number from " << low << " to " << high;
  return parsed_by([low, high, expected = range.str()](const std::string& text) {
    char* end = nullptr;
    const double value = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0' || !std::isfinite(value) || value < low || value > high) {
      throw UsageError("'" + text + "' is not " + expected);
    }
  });
}

namespace {

// Every name --dtype takes; no dtype: auto. The first name of a dtype is its own.
struct DtypeName {
  const char* name;
  std::optional<at::ScalarType> dtype;
};
constexpr DtypeName kDtypeNames[] = {{"auto", std::nullopt},        {"float32", at::kFloat}, {"f32", at::kFloat},
                                     {"fp32", at::kFloat},          {"bfloat16", at::kBFloat16},
                                     {"bf16", at::kBFloat16}};

}  // namespace

CLI::Option* add_dtype_option(CLI::App& command, std::string& dtype) {
  std::vector<std::string> names;
  for (const DtypeName& entry : kDtypeNames) names.emplace_back(entry.name);
  return command
      .add_option("--dtype", dtype,
                  "compute dtype: auto (bfloat16 on a CPU with native bfloat16 matmul, else float32), float32 or "
                  "bfloat16")
      ->check(CLI::IsMember(names))
      ->capture_default_str();
}

at::ScalarType parse_compute_dtype(const std::string& text, const at::Device& device) {
  for (const DtypeName& entry : kDtypeNames) {
    if (text != entry.name) continue;
    const bool cpu = device.is_cpu();
    if (!entry.dtype) return cpu && bf16_support().native() ? at::kBFloat16 : at::kFloat;
    if (*entry.dtype == at::kBFloat16 && cpu) {
      static std::once_flag once;
      std::call_once(once, [] {
        const std::string warning = slow_bf16_warning();
        if (!warning.empty()) std::cerr << warning << "\n";
      });
    }
    return *entry.dtype;
  }
  throw UsageError("--dtype: '" + text + "' is not auto, float32 or bfloat16");
}

std::string dtype_name(at::ScalarType dtype) {
  for (const DtypeName& entry : kDtypeNames) {
    if (entry.dtype == dtype) return entry.name;
  }
  return c10::toString(dtype);
}

std::string joined_names(const std::vector<std::string>& names) {
  std::string text;
  for (const std::string& name : names) text += (text.empty() ? "" : " | ") + name;
  return text;
}

}  // namespace untwist
