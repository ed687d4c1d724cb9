// A setting's spellings as one table of (value, name): parse, name and list
// them from it, so that a flag's check, its help and its errors agree.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "util/errors.h"

namespace untwist {

template <typename Value>
struct Named {
  Value value;
  const char* name;
};

template <typename Value, size_t N>
std::vector<std::string> names_of(const Named<Value> (&table)[N]) {
  std::vector<std::string> names;
  for (const auto& entry : table) names.emplace_back(entry.name);
  return names;
}

template <typename Value, size_t N>
const char* name_in(const Named<Value> (&table)[N], Value value) {
  for (const auto& entry : table) {
    if (entry.value == value) return entry.name;
  }
  return "?";
}

// UsageError: "`what` 'text' is not a, b or c".
template <typename Value, size_t N>
Value parse_in(const Named<Value> (&table)[N], const std::string& text, const std::string& what) {
  for (const auto& entry : table) {
    if (text == entry.name) return entry.value;
  }
  std::string names;
  for (size_t i = 0; i < N; ++i) names += std::string(i == 0 ? "" : (i + 1 == N ? " or " : ", ")) + table[i].name;
  throw UsageError(what + " '" + text + "' is not " + names);
}

}  // namespace untwist
