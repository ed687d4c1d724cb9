#include "share/share_plan.h"

#include <sstream>

#include "util/errors.h"

namespace untwist {

namespace {

int parse_index(const std::string& text, const std::string& spec) {
  size_t used = 0;
  int value = -1;
  try {
    value = std::stoi(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || value < 0) {
    throw UsageError("--blocks '" + spec + "': '" + text + "' is not a block index");
  }
  return value;
}

bool is_name(const std::string& text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  }
  return true;
}

std::string group_list(const std::vector<BlockGroup>& groups) {
  std::string names;
  for (const BlockGroup& group : groups) {
    names += (names.empty() ? "" : ", ") + group.name + " (" + std::to_string(group.count) + ")";
  }
  return names;
}

}  // namespace

SharePlan SharePlan::parse(const std::string& spec) {
  SharePlan plan;
  plan.spec_ = spec;
  std::stringstream stream(spec);
  std::string item;
  while (std::getline(stream, item, ',')) {
    const size_t colon = item.find(':');
    const std::string group = item.substr(0, colon);
    if (!is_name(group) || ((group == "all" || group == "default") && colon != std::string::npos)) {
      throw UsageError("--blocks '" + spec + "': '" + item + "' is not default, all, GROUP or GROUP:A-B");
    }
    if (colon == std::string::npos) {
      plan.ranges_.push_back({group, 0, -1});
      continue;
    }
    const std::string range = item.substr(colon + 1);
    const size_t dash = range.find('-');
    const int first = parse_index(range.substr(0, dash), spec);
    const int last = dash == std::string::npos ? first : parse_index(range.substr(dash + 1), spec);
    if (last < first) throw UsageError("--blocks '" + spec + "': range '" + range + "' ends before it starts");
    plan.ranges_.push_back({group, first, last});
  }
  if (plan.ranges_.empty()) throw UsageError("--blocks: empty block specification");
  return plan;
}

SharePlan SharePlan::bind(const std::vector<BlockGroup>& groups, const std::string& default_spec) const {
  SharePlan bound;
  bound.spec_ = spec_;
  for (const Range& range : ranges_) {
    if (range.group == "default") {
      const SharePlan defaults = parse(default_spec).bind(groups, default_spec);
      bound.ranges_.insert(bound.ranges_.end(), defaults.ranges_.begin(), defaults.ranges_.end());
      continue;
    }
    if (range.group == "all") {
      bound.ranges_.push_back(range);
      continue;
    }
    const BlockGroup* found = nullptr;
    for (const BlockGroup& group : groups) {
      if (group.name == range.group) found = &group;
    }
    if (!found) {
      throw UsageError("--blocks '" + spec_ + "': the model has no block group '" + range.group +
                       "'; its groups are " + group_list(groups));
    }
    if (range.last >= found->count) {
      throw UsageError("--blocks '" + spec_ + "': the model has " + std::to_string(found->count) + " " +
                       found->name + " blocks (0-" + std::to_string(found->count - 1) + "), not block " +
                       std::to_string(range.last));
    }
    bound.ranges_.push_back(range);
  }
  return bound;
}

bool SharePlan::shares(const BlockRef& block) const {
  for (const Range& range : ranges_) {
    if ((range.group == "all" || range.group == block.group) && block.index >= range.first &&
        (range.last < 0 || block.index <= range.last)) {
      return true;
    }
  }
  return false;
}

}  // namespace untwist
