#include "cli_values.h"

#include <sstream>

#include "util/errors.h"

namespace untwist {

std::vector<int64_t> parse_int_list(const std::string& text, const std::string& option) {
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
  return values;
}

at::ScalarType parse_compute_dtype(const std::string& text) {
  if (text == "float32" || text == "f32" || text == "fp32") return at::kFloat;
  if (text == "bfloat16" || text == "bf16") return at::kBFloat16;
  throw UsageError("--dtype: '" + text + "' is not float32 or bfloat16");
}

}  // namespace untwist
