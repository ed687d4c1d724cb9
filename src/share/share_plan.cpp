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

}  // namespace

SharePlan SharePlan::parse(const std::string& spec) {
  SharePlan plan;
  plan.spec_ = spec;
  std::stringstream stream(spec);
  std::string item;
  while (std::getline(stream, item, ',')) {
    const size_t colon = item.find(':');
    const std::string kind = item.substr(0, colon);
    std::vector<BlockKind> kinds;
    if (kind == "double") kinds = {BlockKind::Double};
    else if (kind == "single") kinds = {BlockKind::Single};
    else if (kind == "all" && colon == std::string::npos) kinds = {BlockKind::Double, BlockKind::Single};
    else throw UsageError("--blocks '" + spec + "': '" + item + "' is not single, double, all, or KIND:A-B");
    if (colon == std::string::npos) {
      for (BlockKind k : kinds) plan.ranges_.push_back({k, 0, -1});
      continue;
    }
    const std::string range = item.substr(colon + 1);
    const size_t dash = range.find('-');
    const int first = parse_index(range.substr(0, dash), spec);
    const int last = dash == std::string::npos ? first : parse_index(range.substr(dash + 1), spec);
    if (last < first) throw UsageError("--blocks '" + spec + "': range '" + range + "' ends before it starts");
    plan.ranges_.push_back({kinds.front(), first, last});
  }
  if (plan.ranges_.empty()) throw UsageError("--blocks: empty block specification");
  return plan;
}

void SharePlan::check_against(int64_t double_blocks, int64_t single_blocks) const {
  for (const Range& range : ranges_) {
    const int64_t count = range.kind == BlockKind::Double ? double_blocks : single_blocks;
    if (range.last >= count) {
      throw UsageError("--blocks '" + spec_ + "': the model has " + std::to_string(count) + " " +
                       (range.kind == BlockKind::Double ? "double" : "single") + " blocks (0-" +
                       std::to_string(count - 1) + "), not block " + std::to_string(range.last));
    }
  }
}

bool SharePlan::shares(const BlockRef& block) const {
  for (const Range& range : ranges_) {
    if (range.kind == block.kind && block.index >= range.first && (range.last < 0 || block.index <= range.last)) {
      return true;
    }
  }
  return false;
}

}  // namespace untwist
