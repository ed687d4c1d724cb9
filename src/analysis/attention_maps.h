// The paper's Fig. 2: where one target query looks, over the target's own
// image and over the reference image, with all RoPE pairs, only the
// high-frequency pairs, or only the low-frequency pairs (others zeroed).
#pragma once
#include <ATen/ATen.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "share/shared_attention.h"

namespace untwist {

enum class PairBand { All, High, Low };
const char* pair_band_name(PairBand band);

// [D] 1 on the pairs the band keeps. High and low are the first and last thirds
// of each spatial axis's pairs; the index axis (axis 0) rotates with no image
// position, so the band-limited masks leave it out.
at::Tensor pair_band_mask(const std::vector<int64_t>& axes_dim, PairBand band);

// Keeps the queries and keys one target row sees in one block at one step.
class AttentionCapture : public SharedAttentionObserver {
 public:
  AttentionCapture(int step, BlockRef block, int64_t row) : step_(step), block_(block), row_(row) {}
  void begin_step(int step, double) override { current_step_ = step; }
  void observe(const BlockRef& block, int64_t row, const at::Tensor& q, const at::Tensor& keys,
               const at::Tensor& key_bias, const ImageSpan& image) override;

  bool captured() const { return q_.defined(); }
  const at::Tensor& queries() const { return q_; }   // [H, L, D] after RoPE
  const at::Tensor& keys() const { return keys_; }   // [H, L + L_refs, D] own keys, then the references'
  const at::Tensor& key_bias() const { return key_bias_; }  // [L + L_refs] the keys' logit biases
  int64_t image_start() const { return image_start_; }

 private:
  int step_;
  BlockRef block_;
  int64_t row_;
  int current_step_ = -1;
  at::Tensor q_, keys_, key_bias_;
  int64_t image_start_ = 0;
};

struct QueryMaps {
  int64_t row, col;                      // the query's token position
  std::vector<at::Tensor> own, reference;  // per band (All, High, Low): [h, w] attention, averaged over heads
};

// Attention of each query point over the own and reference image tokens.
std::vector<QueryMaps> attention_maps(const AttentionCapture& capture, const std::vector<int64_t>& axes_dim,
                                      int64_t h, int64_t w, const std::vector<std::pair<int64_t, int64_t>>& points);

nlohmann::json attention_maps_json(const std::vector<QueryMaps>& maps, int64_t h, int64_t w);

}  // namespace untwist
