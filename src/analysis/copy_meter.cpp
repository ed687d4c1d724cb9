#include "analysis/copy_meter.h"

#include <cmath>

namespace untwist {

CopyMeter::CopyMeter(int64_t h, int64_t w, const at::Tensor& reference_positions) : h_(h), w_(w) {
  const at::Tensor rows = at::arange(h * w, at::kLong).div(w, "floor");
  const at::Tensor cols = at::arange(h * w, at::kLong).remainder(w);
  at::Tensor ref_rows = rows, ref_cols = cols;
  if (reference_positions.defined()) {
    const at::Tensor placed = reference_positions.round().to(at::kLong);  // [L_ref, 2]
    ref_rows = placed.select(1, 0);
    ref_cols = placed.select(1, 1);
  }
  const at::Tensor row_gap = (rows.unsqueeze(1) - ref_rows.unsqueeze(0)).abs();  // [L_img, L_ref]
  const at::Tensor col_gap = (cols.unsqueeze(1) - ref_cols.unsqueeze(0)).abs();
  same_ = ((row_gap == 0) & (col_gap == 0)).to(at::kFloat);
  neighbours_ = ((row_gap <= 1) & (col_gap <= 1)).to(at::kFloat);
}

void CopyMeter::begin_step(int step, double t) {
  step_ = step;
  t_ = t;
}

void CopyMeter::observe(const BlockRef& block, int64_t, const at::Tensor& q, const at::Tensor& keys,
                        const at::Tensor& key_bias, const ImageSpan& image) {
  const int64_t img = h_ * w_, own = q.size(1);
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(2)));
  Sum sum;
  for (int64_t head = 0; head < q.size(0); ++head) {  // one head at a time bounds the memory
    const at::Tensor queries = q[head].narrow(0, image.start, img).to(at::kFloat);                       // [L_img, D]
    at::Tensor logits = at::matmul(queries, keys[head].to(at::kFloat).t()) * scale;  // [L_img, L + L_refs]
    if (key_bias.defined()) logits = logits + key_bias.to(at::kFloat);
    const at::Tensor weights = at::softmax(logits, -1);
    const at::Tensor on_reference = weights.narrow(1, own, same_.size(1));  // [L_img, L_ref]
    sum.same += (on_reference * same_).sum(1).mean().item<double>();
    sum.neighbourhood += (on_reference * neighbours_).sum(1).mean().item<double>();
    sum.total += on_reference.sum(1).mean().item<double>();
    ++sum.count;
  }
  const std::string name = block.group + "." + std::to_string(block.index);
  for (auto& [reading, total] : sums_) {
    if (reading.step == step_ && reading.block == name) {
      total.same += sum.same;
      total.neighbourhood += sum.neighbourhood;
      total.total += sum.total;
      total.count += sum.count;
      return;
    }
  }
  CopyReading reading;
  reading.step = step_;
  reading.t = t_;
  reading.block = name;
  sums_.emplace_back(reading, sum);
}

std::vector<CopyReading> CopyMeter::readings() const {
  std::vector<CopyReading> result;
  for (const auto& [reading, sum] : sums_) {
    CopyReading mean = reading;
    mean.same_position = sum.same / sum.count;
    mean.neighbourhood = sum.neighbourhood / sum.count;
    mean.reference_total = sum.total / sum.count;
    result.push_back(mean);
  }
  return result;
}

CopyReading CopyMeter::means() const {
  CopyReading mean;
  const std::vector<CopyReading> all = readings();
  for (const CopyReading& reading : all) {
    mean.same_position += reading.same_position / static_cast<double>(all.size());
    mean.neighbourhood += reading.neighbourhood / static_cast<double>(all.size());
    mean.reference_total += reading.reference_total / static_cast<double>(all.size());
  }
  return mean;
}

nlohmann::json CopyMeter::to_json() const {
  nlohmann::json readings_json = nlohmann::json::array();
  for (const CopyReading& r : readings()) {
    readings_json.push_back({{"step", r.step},
                             {"t", r.t},
                             {"block", r.block},
                             {"same_position", r.same_position},
                             {"neighbourhood", r.neighbourhood},
                             {"reference_total", r.reference_total}});
  }
  return {{"what", "mean attention mass of target image queries on the reference image tokens: at the same "
                   "position, in its 3x3 neighbourhood, and in total"},
          {"grid", {h_, w_}},
          {"readings", readings_json}};
}

}  // namespace untwist
