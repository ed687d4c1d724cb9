// The copying meter: how much of a target query's attention lands on the
// reference token at its own position (and its 8 neighbours), per shared
// block and sampler step. A direct measure of positional copying. A
// reference on a grid of its own counts by its placed positions: the tokens
// at a query's position are those whose positions round to the query's (one
// where the reference is placed in whole tokens, centre or corner; none, one
// or several where it is scaled).
#pragma once
#include <ATen/ATen.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "share/shared_attention.h"

namespace untwist {

struct CopyReading {
  int step = 0;
  double t = 0;
  std::string block;            // "double.3", "single.0"
  double same_position = 0;     // mean mass on the reference token at the query's position
  double neighbourhood = 0;     // ... on that token and its 8 neighbours
  double reference_total = 0;   // ... on all reference tokens
};

class CopyMeter : public SharedAttentionObserver {
 public:
  // h, w: the targets' image token grid. reference_positions: the first
  // reference's (row, column) per token on that grid [L_ref, 2]
  // (reference_grid_positions); undefined: the targets' own grid.
  CopyMeter(int64_t h, int64_t w, const at::Tensor& reference_positions = {});

  void begin_step(int step, double t) override;
  void observe(const BlockRef& block, int64_t row, const at::Tensor& q, const at::Tensor& keys,
               const at::Tensor& key_bias, const ImageSpan& image) override;

  // One reading per (step, block), averaged over target rows, heads and image queries.
  std::vector<CopyReading> readings() const;
  // The readings' mean over steps and blocks (step, t and block left empty);
  // zeros when nothing was observed.
  CopyReading means() const;
  nlohmann::json to_json() const;

 private:
  struct Sum {
    double same = 0, neighbourhood = 0, total = 0;
    int count = 0;
  };
  int64_t h_, w_;
  at::Tensor same_;        // [L_img, L_ref] 1 where the reference token sits at the query's position
  at::Tensor neighbours_;  // [L_img, L_ref] 1 where it is within one row and column of it
  int step_ = 0;
  double t_ = 0;
  std::vector<std::pair<CopyReading, Sum>> sums_;  // in observation order
};

}  // namespace untwist
