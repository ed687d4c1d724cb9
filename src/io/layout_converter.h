// Moving tensors from another layout's names (diffusers) to the reference's,
// as stored: float8 and quantised tensors stay encoded where they are only
// renamed, joined or have their halves swapped, so a large encoded checkpoint
// is not widened to float32 by loading it. Every source tensor must find a
// place; what is left over is reported.
#pragma once
#include <map>
#include <set>
#include <string>
#include <vector>

#include "io/stored_tensor.h"
#include "io/weights.h"

namespace untwist {

// Whether any name starts with `prefix` (layout detection reads names only).
bool any_name_starts_with(const TensorMap& tensors, const std::string& prefix);

class LayoutConverter {
 public:
  // `model` names the reference model in errors ("FLUX.2 transformer").
  LayoutConverter(const StoredMap& source, std::string path, std::string model);

  bool has(const std::string& name) const { return source_.count(name) != 0; }
  // DataError naming the file when missing.
  const StoredTensor& take(const std::string& name);
  void put(const std::string& name, StoredTensor tensor) { out_[name] = std::move(tensor); }

  // from.weight/.bias -> to.weight/.bias (whichever exist).
  void rename(const std::string& from, const std::string& to);
  // RMSNorm: from.weight -> to.scale.
  void rename_scale(const std::string& from, const std::string& to);
  // Several linears stacked along the output dimension into one, in the order
  // given; DataError when their other dimensions differ.
  void join(const std::vector<std::string>& parts, const std::string& to);
  // diffusers norm_out is (scale, shift); the reference's final adaLN is (shift, scale).
  void rename_swapping_halves(const std::string& from, const std::string& to);
  // Linear [C, C] attention projections become the reference's 1x1 convolutions.
  void rename_as_conv1x1(const std::string& from, const std::string& to);

  // The converted map; DataError naming a source tensor that found no place.
  StoredMap finish();

 private:
  const StoredMap& source_;
  std::string path_, model_;
  StoredMap out_;
  std::set<std::string> used_;
};

}  // namespace untwist
