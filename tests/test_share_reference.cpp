// Shared attention against a float64 implementation of METHOD.md written here
// from the text alone (sections 2, 4 and 6), for every mode and AdaIN: RoPE by
// adjacent pairs, reference keys scaled per band, AdaIN of the targets'
// image-token queries and keys before RoPE (stylealigned, alignedgen, --adain),
// alignedgen's reference keys rotated at columns shifted past the grid.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "model/flux1/packing.h"
#include "model/rope.h"
#include "share/knob_schedule.h"
#include "share/reference_positions.h"
#include "share/shared_attention.h"
#include "test_support.h"
#include "util/errors.h"

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

// One reference row: its q, k, v [H, L, D], its positions [L, 3] and where
// its image tokens start.
struct Row64 {
  at::Tensor q, k, v, ids;
  int64_t image_start = kTxt, image_length = kImg;

  at::Tensor image(const at::Tensor& x) const { return x.narrow(1, image_start, image_length); }
};

// METHOD section 4 for target row (q, k, v) [H, L, D] on the targets' grid
// with the reference `ref` -> [H, L, D].
at::Tensor target_attention64(at::Tensor q, at::Tensor k, const at::Tensor& v, const Row64& ref, ShareMode mode,
                              double adain, double s_hf, double s_lf, double beta) {
  const at::Tensor own_ids = positions(0);
  q = q.to(at::kDouble).clone();
  k = k.to(at::kDouble).clone();
  const double strength = (mode == ShareMode::StyleAligned || mode == ShareMode::AlignedGen) ? 1.0 : adain;
  if (strength > 0) {
    const at::Tensor qi = q.narrow(1, kTxt, kImg).clone(), ki = k.narrow(1, kTxt, kImg).clone();
    q.narrow(1, kTxt, kImg).copy_((1 - strength) * qi + strength * adain64(qi, ref.image(ref.q.to(at::kDouble))));
    k.narrow(1, kTxt, kImg).copy_((1 - strength) * ki + strength * adain64(ki, ref.image(ref.k.to(at::kDouble))));
  }
  at::Tensor ref_ids = ref.ids.clone();
  if (mode == ShareMode::AlignedGen) {  // moved right by whole columns until past the targets' last
    const double leftmost = ref.image(ref_ids.t()).t().select(1, 2).min().item<double>();
    ref_ids.select(1, 2).add_(static_cast<double>(kCols) + std::ceil(std::max(0.0, -leftmost)));
  }
  at::Tensor ref_keys = ref.image(rope64(ref.k, ref_ids));
  if (mode == ShareMode::Untwisted) ref_keys = ref_keys * scales64(s_hf, s_lf, beta);
  const at::Tensor keys = at::cat({rope64(k, own_ids), ref_keys}, 1);
  const at::Tensor values = at::cat({v.to(at::kDouble), ref.image(ref.v.to(at::kDouble))}, 1);
  return softmax_attention64(rope64(q, own_ids), keys, values);
}

// METHOD section 4 for every row of the batch, row 0 the reference -> [B, L, H*D].
at::Tensor reference_attention(const AttentionCall& call, ShareMode mode, double adain, double s_hf, double s_lf,
                               double beta) {
  const int64_t batch = call.q.size(0), heads = call.q.size(1);
  const Row64 ref{call.q[0].to(at::kDouble), call.k[0].to(at::kDouble), call.v[0].to(at::kDouble), positions(0)};
  std::vector<at::Tensor> rows = {softmax_attention64(rope64(ref.q, ref.ids), rope64(ref.k, ref.ids), ref.v)};
  for (int64_t b = 1; b < batch; ++b) {
    rows.push_back(target_attention64(call.q[b], call.k[b], call.v[b], ref, mode, adain, s_hf, s_lf, beta));
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

// A reference on a 4 x 5 grid of its own beside 3 x 4 targets, placed every
// way, in two groups (conditional, negative) of two targets: its model call
// records its tokens (ReferenceSource::Record), the targets' call takes them
// from the bank, and each target equals METHOD.md with the reference's own
// positions.
TEST(ShareReference, AReferenceOnAGridOfItsOwnEqualsMethodMdInFloat64) {
  at::manual_seed(12);
  constexpr int64_t kRefRows = 4, kRefCols = 5, kRefImg = kRefRows * kRefCols;
  const at::Tensor target_pe =
      rope_table(positions(0).to(at::kFloat).unsqueeze(0).expand({4, -1, -1}), kRope.axes_dim, kRope.theta);
  AttentionCall targets;
  targets.block = BlockRef{"single", 0};
  targets.q = at::randn({4, 2, kTxt + kImg, kDim}) * 1.5;
  targets.k = at::randn({4, 2, kTxt + kImg, kDim}) * 1.5;
  targets.v = at::randn({4, 2, kTxt + kImg, kDim});
  targets.pe = target_pe;
  targets.image.assign(4, ImageSpan{kTxt, kImg, kRows, kCols});
  targets.rope = &kRope;
  AttentionCall refs = targets;
  refs.q = at::randn({2, 2, kTxt + kRefImg, kDim}) * 2.0 + 1.0;
  refs.k = at::randn({2, 2, kTxt + kRefImg, kDim}) * 0.5 - 1.0;
  refs.v = at::randn({2, 2, kTxt + kRefImg, kDim});
  refs.image.assign(2, ImageSpan{kTxt, kRefImg, kRefRows, kRefCols});

  for (ReferencePositions placement : {ReferencePositions::Centre, ReferencePositions::Corner, ReferencePositions::Scale}) {
    at::Tensor ids = at::zeros({kTxt + kRefImg, 3});
    ids.narrow(0, kTxt, kRefImg).copy_(place_reference_ids(image_position_ids(1, kRefRows, kRefCols)[0], kRope,
                                                           {kRefRows, kRefCols}, {kRows, kCols}, placement));
    refs.pe = rope_table(ids.unsqueeze(0).expand({2, -1, -1}), kRope.axes_dim, kRope.theta);
    const double leftmost = ids.narrow(0, kTxt, kRefImg).select(1, 2).min().item<double>();
    for (ShareMode mode : {ShareMode::Full, ShareMode::Untwisted, ShareMode::StyleAligned, ShareMode::AlignedGen}) {
      SCOPED_TRACE(std::string(reference_positions_name(placement)) + " " + share_mode_name(mode));
      ShareSettings settings;
      settings.mode = mode;
      settings.beta = 1.5;
      settings.blocks = SharePlan::parse("all").bind({{"single", 1}}, "single");
      const StepKnobs knobs{true, 0.3, 1.6};
      const at::Tensor shift =
          mode == ShareMode::AlignedGen
              ? column_shift(kRope, kCols + static_cast<int64_t>(std::ceil(std::max(0.0, -leftmost))))
              : at::Tensor();
      ReferenceBank bank;
      const SharedAttention record(settings, knobs, kRope, shift, nullptr, 1, {ReferenceSource::Record, &bank, 0});
      const at::Tensor ref_out = record.attend(refs);  // [2, L_ref, H*D]
      const SharedAttention shared(settings, knobs, kRope, shift, nullptr, 2, {ReferenceSource::FromBank, &bank, 0});
      const at::Tensor out = shared.attend(targets);  // [4, L, H*D]
      for (int64_t group = 0; group < 2; ++group) {
        const Row64 ref{refs.q[group].to(at::kDouble), refs.k[group].to(at::kDouble), refs.v[group].to(at::kDouble),
                        ids.to(at::kDouble), kTxt, kRefImg};
        const at::Tensor alone = softmax_attention64(rope64(ref.q, ref.ids), rope64(ref.k, ref.ids), ref.v);
        EXPECT_LE(relative_error(ref_out[group], alone.permute({1, 0, 2}).reshape({kTxt + kRefImg, -1})), 1e-5)
            << "a reference attends to itself alone";
        for (int64_t b = 2 * group; b < 2 * group + 2; ++b) {
          const at::Tensor expected =
              target_attention64(targets.q[b], targets.k[b], targets.v[b], ref, mode, 0.0, knobs.s_hf, knobs.s_lf,
                                 settings.beta);
          EXPECT_LE(relative_error(out[b], expected.permute({1, 0, 2}).reshape({kTxt + kImg, -1})), 1e-5)
              << "target " << b;
        }
      }
    }
  }
}

TEST(ReferencePositions, PlaceTheReferenceGridOnTheTargets) {
  const auto rows_cols = [](TokenGrid reference, TokenGrid targets, ReferencePositions placement) {
    const at::Tensor p = reference_grid_positions(reference, targets, placement);  // [L, 2]
    return std::pair{p.select(1, 0).reshape({reference.rows, reference.cols})[0][0].item<double>(),
                     p.select(1, 1).reshape({reference.rows, reference.cols})[0][0].item<double>()};
  };
  // Centre: the grids' centres coincide up to half a token, in whole tokens.
  EXPECT_EQ(rows_cols({6, 6}, {4, 4}, ReferencePositions::Centre), (std::pair{-1.0, -1.0}));
  EXPECT_EQ(rows_cols({5, 3}, {4, 8}, ReferencePositions::Centre), (std::pair{-1.0, 2.0}));
  EXPECT_EQ(rows_cols({4, 4}, {4, 4}, ReferencePositions::Centre), (std::pair{0.0, 0.0}));
  EXPECT_EQ(rows_cols({6, 6}, {4, 4}, ReferencePositions::Corner), (std::pair{0.0, 0.0}));
  // Scale: token centres span the targets' extent, first and last at the same offsets.
  const at::Tensor scaled = reference_grid_positions({8, 2}, {4, 4}, ReferencePositions::Scale);
  EXPECT_NEAR(scaled[0][0].item<double>(), -0.25, 1e-6);
  EXPECT_NEAR(scaled[15][0].item<double>(), 3.25, 1e-6);
  EXPECT_NEAR(scaled[0][1].item<double>(), 0.5, 1e-6);
  EXPECT_NEAR(scaled[1][1].item<double>(), 2.5, 1e-6);
  // The same grid is the targets' own positions every way.
  for (ReferencePositions placement : {ReferencePositions::Centre, ReferencePositions::Corner, ReferencePositions::Scale}) {
    const at::Tensor own = image_position_ids(1, 3, 4)[0];
    EXPECT_TRUE(at::allclose(place_reference_ids(own, kRope, {3, 4}, {3, 4}, placement), own));
  }
  EXPECT_EQ(parse_reference_positions("scale"), ReferencePositions::Scale);
  EXPECT_THROW(parse_reference_positions("middle"), UsageError);
  EXPECT_THROW(place_reference_ids(image_position_ids(1, 3, 4)[0], kRope, {4, 4}, {3, 4}, ReferencePositions::Centre),
               InputError);
}

}  // namespace
}  // namespace untwist
