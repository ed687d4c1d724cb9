// Shared attention against a float64 implementation of METHOD.md written here
// from the text alone (sections 2, 4 and 6), for every mode and AdaIN: RoPE by
// adjacent pairs, reference keys scaled per band, AdaIN of the targets'
// image-token queries and keys before RoPE (stylealigned, alignedgen, --adain),
// alignedgen's reference keys rotated at columns shifted past the grid.
#include <gtest/gtest.h>

#include <cmath>

#include "model/rope.h"
#include "share/knob_schedule.h"
#include "share/shared_attention.h"
#include "test_support.h"

namespace untwist {
namespace {

using test::relative_error;

constexpr int64_t kTxt = 3, kRows = 3, kCols = 4, kImg = kRows * kCols, kDim = 8;
const RopeLayout kRope{{2, 2, 4}, {AxisRole::Index, AxisRole::Row, AxisRole::Column}, 10000};

// Positions of one row: text at 0, then the image's (0, row, col + shift).
at::Tensor positions(int64_t column_shift) {
  at::Tensor ids = at::zeros({kTxt + kImg, 3}, at::kDouble);
  for (int64_t r = 0; r < kRows; ++r) {
    for (int64_t c = 0; c < kCols; ++c) {
      ids[kTxt + r * kCols + c][1] = static_cast<double>(r);
      ids[kTxt + r * kCols + c][2] = static_cast<double>(c + column_shift);
    }
  }
  return ids;
}

// x: [H, L, D] rotated pair by pair: pair j of axis a by pos_a * theta^(-2j/D_a).
at::Tensor rope64(const at::Tensor& x, const at::Tensor& ids) {
  at::Tensor out = x.to(at::kDouble).clone();
  int64_t d = 0;
  for (size_t axis = 0; axis < kRope.axes_dim.size(); ++axis) {
    const int64_t dim = kRope.axes_dim[axis];
    for (int64_t j = 0; j < dim / 2; ++j, d += 2) {
      const at::Tensor angle = ids.select(1, static_cast<int64_t>(axis)) *
                               std::pow(kRope.theta, -2.0 * static_cast<double>(j) / static_cast<double>(dim));
      const at::Tensor a = x.select(-1, d).to(at::kDouble), b = x.select(-1, d + 1).to(at::kDouble);
      out.select(-1, d).copy_(a * at::cos(angle) - b * at::sin(angle));
      out.select(-1, d + 1).copy_(a * at::sin(angle) + b * at::cos(angle));
    }
  }
  return out;
}

// Per channel over tokens: (x - mean) / std * ref_std + ref_mean (std unbiased, + 1e-5 inside the root).
at::Tensor adain64(const at::Tensor& x, const at::Tensor& ref) {
  const auto stats = [](const at::Tensor& t) {
    return std::pair{t.mean(-2, true), (t.var(-2, true, true) + 1e-5).sqrt()};
  };
  const auto [m, s] = stats(x);
  const auto [rm, rs] = stats(ref);
  return (x - m) / s * rs + rm;
}

// METHOD section 2: pair j of a row/column axis gets s_hf + (s_lf - s_hf) (j / (n - 1))^beta; index axes s_lf.
at::Tensor scales64(double s_hf, double s_lf, double beta) {
  std::vector<double> s;
  for (size_t axis = 0; axis < kRope.axes_dim.size(); ++axis) {
    const int64_t pairs = kRope.axes_dim[axis] / 2;
    for (int64_t j = 0; j < pairs; ++j) {
      const double depth = pairs == 1 ? 1.0 : double(j) / double(pairs - 1);
      const double value = kRope.roles[axis] == AxisRole::Index ? s_lf : s_hf + (s_lf - s_hf) * std::pow(depth, beta);
      s.insert(s.end(), {value, value});
    }
  }
  return at::tensor(s, at::kDouble);
}

at::Tensor softmax_attention64(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
  return at::matmul(at::softmax(at::matmul(q, k.transpose(-1, -2)) / std::sqrt(double(kDim)), -1), v);
}

// METHOD section 4 for every row of the batch -> [B, L, H*D].
at::Tensor reference_attention(const AttentionCall& call, ShareMode mode, double adain, double s_hf, double s_lf,
                               double beta) {
  const int64_t batch = call.q.size(0), heads = call.q.size(1);
  const at::Tensor own_ids = positions(0);
  std::vector<at::Tensor> rows;
  const at::Tensor q0 = call.q[0].to(at::kDouble), k0 = call.k[0].to(at::kDouble), v0 = call.v[0].to(at::kDouble);
  rows.push_back(softmax_attention64(rope64(q0, own_ids), rope64(k0, own_ids), v0));
  const double strength = (mode == ShareMode::StyleAligned || mode == ShareMode::AlignedGen) ? 1.0 : adain;
  for (int64_t b = 1; b < batch; ++b) {
    at::Tensor q = call.q[b].to(at::kDouble).clone(), k = call.k[b].to(at::kDouble).clone();
    if (strength > 0) {
      const at::Tensor qi = q.narrow(1, kTxt, kImg).clone(), ki = k.narrow(1, kTxt, kImg).clone();
      q.narrow(1, kTxt, kImg).copy_((1 - strength) * qi + strength * adain64(qi, q0.narrow(1, kTxt, kImg)));
      k.narrow(1, kTxt, kImg).copy_((1 - strength) * ki + strength * adain64(ki, k0.narrow(1, kTxt, kImg)));
    }
    at::Tensor ref_keys = mode == ShareMode::AlignedGen ? rope64(k0, positions(kCols)) : rope64(k0, own_ids);
    ref_keys = ref_keys.narrow(1, kTxt, kImg);
    if (mode == ShareMode::Untwisted) ref_keys = ref_keys * scales64(s_hf, s_lf, beta);
    const at::Tensor keys = at::cat({rope64(k, own_ids), ref_keys}, 1);
    const at::Tensor values = at::cat({call.v[b].to(at::kDouble), v0.narrow(1, kTxt, kImg)}, 1);
    rows.push_back(softmax_attention64(rope64(q, own_ids), keys, values));
  }
  return at::stack(rows).permute({0, 2, 1, 3}).reshape({batch, kTxt + kImg, heads * kDim});
}

TEST(ShareReference, EveryModeEqualsMethodMdInFloat64) {
  at::manual_seed(11);
  AttentionCall call;
  call.block = BlockRef{"single", 0};
  call.q = at::randn({3, 2, kTxt + kImg, kDim}) * 1.5;
  call.k = at::randn({3, 2, kTxt + kImg, kDim}) * 1.5;
  call.v = at::randn({3, 2, kTxt + kImg, kDim});
  call.q[0] = call.q[0] * 2.0 + 1.0;  // the reference's statistics differ from the targets'
  call.k[0] = call.k[0] * 0.5 - 1.0;
  call.pe = rope_table(positions(0).to(at::kFloat).unsqueeze(0).expand({3, -1, -1}), kRope.axes_dim, kRope.theta);
  call.image.assign(3, ImageSpan{kTxt, kImg, kRows, kCols});
  call.rope = &kRope;
  const at::Tensor shifted = column_shift(kRope, kCols);

  struct Case {
    ShareMode mode;
    double adain;
  };
  for (const Case& c : {Case{ShareMode::Full, 0.0}, Case{ShareMode::Untwisted, 0.0}, Case{ShareMode::Untwisted, 0.5},
                        Case{ShareMode::StyleAligned, 0.0}, Case{ShareMode::AlignedGen, 0.0}}) {
    SCOPED_TRACE(std::string(share_mode_name(c.mode)) + " adain " + std::to_string(c.adain));
    ShareSettings settings;
    settings.mode = c.mode;
    settings.adain = c.adain;
    settings.beta = 1.5;
    settings.blocks = SharePlan::parse("all").bind({{"single", 1}}, "single");
    const StepKnobs knobs{true, 0.3, 1.6};
    const SharedAttention hook(settings, knobs, kRope, c.mode == ShareMode::AlignedGen ? shifted : at::Tensor());
    const at::Tensor expected = reference_attention(call, c.mode, c.adain, knobs.s_hf, knobs.s_lf, settings.beta);
    EXPECT_LE(relative_error(hook.attend(call), expected), 1e-5);
  }
  // The reference itself tells the modes apart: a wrong mode is far off.
  EXPECT_GT(relative_error(reference_attention(call, ShareMode::Full, 0, 0.3, 1.6, 1.5),
                           reference_attention(call, ShareMode::Untwisted, 0, 0.3, 1.6, 1.5)),
            1e-3);
  EXPECT_GT(relative_error(reference_attention(call, ShareMode::Full, 0, 0.3, 1.6, 1.5),
                           reference_attention(call, ShareMode::AlignedGen, 0, 0.3, 1.6, 1.5)),
            1e-3);
}

}  // namespace
}  // namespace untwist
