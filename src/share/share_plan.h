// Which blocks share attention: "single" (default), "double", "all", or
// explicit index ranges such as "double:10-18,single:0-37".
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "model/attention.h"

namespace untwist {

class SharePlan {
 public:
  // Parses a spec; UsageError on anything malformed.
  static SharePlan parse(const std::string& spec);

  // UsageError when a range names a block the model does not have.
  void check_against(int64_t double_blocks, int64_t single_blocks) const;

  bool shares(const BlockRef& block) const;
  const std::string& spec() const { return spec_; }

 private:
  struct Range {
    BlockKind kind;
    int first, last;  // inclusive; last = -1 means "to the end"
  };
  std::vector<Range> ranges_;
  std::string spec_;
};

}  // namespace untwist
