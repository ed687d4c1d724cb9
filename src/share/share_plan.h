// Which blocks share attention, by the group names the model declares:
// "default" (the model's own choice), "all", a group ("single", "layers"), or
// index ranges within groups ("double:10-18,single:0-37"), comma-separated.
#pragma once
#include <string>
#include <vector>

#include "model/attention.h"

namespace untwist {

class SharePlan {
 public:
  // Parses a spec's syntax; UsageError on anything malformed. Group names are
  // checked when the plan is bound to a model.
  static SharePlan parse(const std::string& spec);

  // The plan for a model with these groups, "default" replaced by the model's
  // default spec; UsageError naming an unknown group or a block past a
  // group's end.
  SharePlan bind(const std::vector<BlockGroup>& groups, const std::string& default_spec) const;

  bool shares(const BlockRef& block) const;
  const std::string& spec() const { return spec_; }

 private:
  struct Range {
    std::string group;  // "all": every group
    int first = 0, last = -1;  // inclusive; last = -1 means "to the end"
  };
  std::vector<Range> ranges_;
  std::string spec_;
};

}  // namespace untwist
