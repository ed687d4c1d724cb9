// `untwist dit --dump NAME_PATTERN DIR`: the named intermediates of every
// forward pass (see StageProbe) whose names match a glob pattern, one
// safetensors file per pass, in float32 on the CPU, for comparing a checkpoint
// against another implementation stage by stage.
#pragma once
#include <ATen/ATen.h>

#include <set>
#include <string>

#include "io/safetensors.h"
#include "model/dit.h"

namespace untwist {

class IntermediateDump {
 public:
  // `pattern`: fnmatch(3) glob over the names ("*", "single_blocks.*", "double_blocks.1?.img").
  IntermediateDump(std::string pattern, std::string directory);

  // A probe that keeps the matching intermediates of the pass `pass`
  // ("pred", "step_03") and never stops it; write(pass) stores them.
  StageProbe probe();
  // DIR/PASS.safetensors with the pass's kept tensors (no file when none matched).
  void write(const std::string& pass);
  // A note for the user when the pattern matched nothing, naming what there was.
  std::string unmatched_note() const;

 private:
  std::string pattern_, directory_;
  NamedTensors kept_;
  std::set<std::string> seen_;
  bool matched_ = false;
};

}  // namespace untwist
