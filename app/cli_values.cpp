#include "cli_values.h"

#include <cmath>
#include <cstdlib>
#include <sstream>

#include "model/text_cleanup.h"
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

at::ScalarType parse_compute_dtype(const std::string& text) {
  if (text == "float32" || text == "f32" || text == "fp32") return at::kFloat;
  if (text == "bfloat16" || text == "bf16") return at::kBFloat16;
  throw UsageError("--dtype: '" + text + "' is not float32 or bfloat16");
}

}  // namespace untwist
