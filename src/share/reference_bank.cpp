#include "share/reference_bank.h"

#include <stdexcept>

namespace untwist {

namespace {

std::string key_of(const BlockRef& block, int64_t group) {
  return block.group + "." + std::to_string(block.index) + "/" + std::to_string(group);
}

}  // namespace

ReferenceTokens ReferenceTokens::then(const ReferenceTokens& later) const {
  if (bias.defined() != later.bias.defined()) throw std::logic_error("reference tokens with and without biases");
  ReferenceTokens joined = *this;
  joined.keys = at::cat({keys, later.keys}, 2);
  joined.values = at::cat({values, later.values}, 2);
  if (bias.defined()) joined.bias = at::cat({bias, later.bias}, 1);
  return joined;
}

void ReferenceBank::store(const BlockRef& block, int64_t group, int64_t reference, ReferenceTokens tokens) {
  std::vector<ReferenceTokens>& entry = entries_[key_of(block, group)];
  if (static_cast<int64_t>(entry.size()) <= reference) entry.resize(static_cast<size_t>(reference) + 1);
  entry[static_cast<size_t>(reference)] = std::move(tokens);
}

ReferenceTokens ReferenceBank::tokens(const BlockRef& block, int64_t group) const {
  const auto found = entries_.find(key_of(block, group));
  if (found == entries_.end() || found->second.empty()) {
    throw std::logic_error("no reference tokens for " + key_of(block, group));
  }
  ReferenceTokens joined;
  for (const ReferenceTokens& tokens : found->second) {
    if (!tokens.keys.defined()) throw std::logic_error("a reference's tokens are missing at " + key_of(block, group));
    joined = joined.keys.defined() ? joined.then(tokens) : tokens;
  }
  return joined;
}

}  // namespace untwist
