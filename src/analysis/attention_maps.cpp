#include "analysis/attention_maps.h"

#include <cmath>

namespace untwist {

const char* pair_band_name(PairBand band) {
  switch (band) {
    case PairBand::All: return "all";
    case PairBand::High: return "high";
    case PairBand::Low: return "low";
  }
  return "?";
}

at::Tensor pair_band_mask(const std::vector<int64_t>& axes_dim, PairBand band) {
  std::vector<float> mask;
  for (size_t axis = 0; axis < axes_dim.size(); ++axis) {
    const int64_t pairs = axes_dim[axis] / 2;
    const int64_t third = std::max<int64_t>(1, pairs / 3);
    for (int64_t j = 0; j < pairs; ++j) {
      bool keep = band == PairBand::All;
      if (axis > 0 && band == PairBand::High) keep = j < third;
      if (axis > 0 && band == PairBand::Low) keep = j >= pairs - third;
      mask.push_back(keep ? 1.0f : 0.0f);
      mask.push_back(keep ? 1.0f : 0.0f);
    }
  }
  return at::tensor(mask);
}

void AttentionCapture::observe(const BlockRef& block, int64_t row, const at::Tensor& q, const at::Tensor& keys,
                               const at::Tensor& key_bias, const ImageSpan& image) {
  if (current_step_ != step_ || row != row_ || block.group != block_.group || block.index != block_.index) return;
  q_ = q.to(at::kFloat).clone();
  keys_ = keys.to(at::kFloat).clone();
  key_bias_ = key_bias.defined() ? key_bias.to(at::kFloat).clone() : at::zeros({keys.size(1)}, at::kFloat);
  image_start_ = image.start;
}

std::vector<QueryMaps> attention_maps(const AttentionCapture& capture, const std::vector<int64_t>& axes_dim,
                                      int64_t h, int64_t w, const std::vector<std::pair<int64_t, int64_t>>& points) {
  const at::Tensor& q = capture.queries();
  const at::Tensor& keys = capture.keys();
  const int64_t txt = capture.image_start(), img = h * w, own = q.size(1);
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(2)));
  std::vector<QueryMaps> result;
  for (const auto& [row, col] : points) {
    QueryMaps maps{row, col, {}, {}};
    const at::Tensor query = q.select(1, txt + row * w + col);  // [H, D]
    for (PairBand band : {PairBand::All, PairBand::High, PairBand::Low}) {
      const at::Tensor mask = pair_band_mask(axes_dim, band);
      const at::Tensor logits =
          at::matmul(keys * mask, (query * mask).unsqueeze(-1)).squeeze(-1) * scale + capture.key_bias();  // [H, L+L_img]
      const at::Tensor weights = at::softmax(logits, -1).mean(0);                                           // [L+L_img]
      maps.own.push_back(weights.narrow(0, txt, img).reshape({h, w}));
      maps.reference.push_back(weights.narrow(0, own, img).reshape({h, w}));
    }
    result.push_back(std::move(maps));
  }
  return result;
}

nlohmann::json attention_maps_json(const std::vector<QueryMaps>& maps, int64_t h, int64_t w) {
  auto to_rows = [](const at::Tensor& map) {
    const at::Tensor values = map.to(at::kDouble).contiguous();
    std::vector<std::vector<double>> rows;
    for (int64_t r = 0; r < values.size(0); ++r) {
      const double* start = values[r].data_ptr<double>();
      rows.emplace_back(start, start + values.size(1));
    }
    return rows;
  };
  nlohmann::json queries = nlohmann::json::array();
  for (const QueryMaps& query : maps) {
    nlohmann::json entry = {{"token", {query.row, query.col}}};
    for (PairBand band : {PairBand::All, PairBand::High, PairBand::Low}) {
      const auto b = static_cast<size_t>(band);
      entry["own"][pair_band_name(band)] = to_rows(query.own[b]);
      entry["reference"][pair_band_name(band)] = to_rows(query.reference[b]);
      entry["reference_mass"][pair_band_name(band)] = query.reference[b].sum().item<double>();
    }
    queries.push_back(entry);
  }
  return {{"what", "attention of target image queries (averaged over heads) over the target's own image tokens and "
                   "the reference's image tokens, with all RoPE pairs, only the high-frequency third, or only the "
                   "low-frequency third of each spatial axis"},
          {"grid", {h, w}},
          {"queries", queries}};
}

}  // namespace untwist
