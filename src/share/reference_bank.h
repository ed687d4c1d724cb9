// The reference tokens a target row attends to besides its own, and where
// references sampled apart from their targets (on token grids of their own)
// leave them for the targets' model call of the same step.
#pragma once
#include <ATen/ATen.h>

#include <map>
#include <string>
#include <vector>

#include "model/attention.h"

namespace untwist {

// References' image tokens as the targets see them: keys after RoPE (scaled
// per band, or shifted for alignedgen), values, and each key's logit bias
// (log w of its reference; undefined when every weight is 1). first_q and
// first_k: the first reference's image queries and keys before RoPE [H,
// L_ref, D], kept where targets are moved toward its statistics (AdaIN).
struct ReferenceTokens {
  at::Tensor keys, values;  // [1, H, L_refs, D]
  at::Tensor bias;          // [1, L_refs] float, or undefined
  at::Tensor first_q, first_k;

  // These tokens followed by `later`'s (a later reference's).
  ReferenceTokens then(const ReferenceTokens& later) const;
};

// Per shared block and group, each reference's tokens by its index; a
// reference stored again (the model call repeated) replaces its entry.
class ReferenceBank {
 public:
  void store(const BlockRef& block, int64_t group, int64_t reference, ReferenceTokens tokens);
  // Every stored reference's tokens in reference order; logic_error when the
  // block and group have none or a reference is missing.
  ReferenceTokens tokens(const BlockRef& block, int64_t group) const;

 private:
  std::map<std::string, std::vector<ReferenceTokens>> entries_;
};

}  // namespace untwist
