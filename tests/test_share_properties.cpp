// Properties of the method that would catch real bugs: the reference row is
// untouched by sharing, untwisted with unit scales is full sharing, the key
// scales hit s_hf and s_lf at the band ends, AdaIN carries the reference's
// statistics, alignedgen's reference positions never meet a target's, and
// reference weights act as log w on the logits.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "io/safetensors.h"
#include "io/weights.h"
#include "model/families.h"
#include "model/flux1/flux.h"
#include "model/flux1/packing.h"
#include "model/rope.h"
#include "sample/dit_sampler.h"
#include "model/flow_schedule.h"
#include "share/adain.h"
#include "share/key_scales.h"
#include "share/knob_schedule.h"
#include "share/shared_attention.h"
#include "test_support.h"
#include "util/errors.h"

namespace untwist {
namespace {

using test::relative_error;

class ShareProperties : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string path = test::golden_dir() + "/share_prompt_ref.safetensors";
    golden_ = SafetensorsFile::open(path);
    weights_ = std::make_unique<Weights>(Weights::load(path));
    model_ = std::make_unique<FluxModel>(*weights_, detect_flux_config(*weights_));
  }

  SamplingSetup setup(int64_t rows) const {
    SamplingSetup s;
    s.noise = golden_->tensor("in.img").narrow(0, 0, rows);
    s.conditioning.img_ids = golden_->tensor("in.img_ids").narrow(0, 0, rows);
    s.conditioning.txt = golden_->tensor("in.txt").narrow(0, 0, rows);
    s.conditioning.txt_ids = golden_->tensor("in.txt_ids").narrow(0, 0, rows);
    s.conditioning.y = golden_->tensor("in.y").narrow(0, 0, rows);
    s.conditioning.guidance = at::full({rows}, 3.5);
    s.times = flux_schedule(4, s.noise.size(1), true);
    return s;
  }

  at::Tensor sample(ShareSettings* settings, int64_t rows = 3) const {
    SamplingSetup s = setup(rows);
    s.share = settings;
    return sample_dit(*model_, s);
  }

  std::shared_ptr<const SafetensorsFile> golden_;
  std::unique_ptr<Weights> weights_;
  std::unique_ptr<FluxModel> model_;
};

TEST_F(ShareProperties, ReferenceRowEqualsGeneratingItAlone) {
  const at::Tensor alone = sample(nullptr, 1)[0];
  for (ShareMode mode : {ShareMode::Full, ShareMode::Untwisted, ShareMode::StyleAligned, ShareMode::AlignedGen}) {
    SCOPED_TRACE(share_mode_name(mode));
    ShareSettings settings;
    settings.mode = mode;
    settings.blocks = SharePlan::parse("all");
    const at::Tensor shared = sample(&settings);
    EXPECT_LE(relative_error(shared[0], alone), 1e-6);
    EXPECT_GT(relative_error(shared[1], sample(nullptr)[1]), 1e-3) << "targets must feel the reference";
  }
}

TEST_F(ShareProperties, UntwistedWithUnitScalesIsFullSharing) {
  ShareSettings full;
  full.mode = ShareMode::Full;
  full.blocks = SharePlan::parse("all");
  ShareSettings unit = full;
  unit.mode = ShareMode::Untwisted;
  unit.s_hf = {1.0, 1.0};
  unit.s_lf = {1.0, 1.0};
  EXPECT_LE(relative_error(sample(&unit), sample(&full)), 1e-6);
  ShareSettings untwisted = full;
  untwisted.mode = ShareMode::Untwisted;
  EXPECT_GT(relative_error(sample(&untwisted), sample(&full)), 1e-3);
}

TEST_F(ShareProperties, ModeNoneAndAnEmptyWindowAreIndependentGeneration) {
  ShareSettings none;
  none.mode = ShareMode::None;
  EXPECT_LE(relative_error(sample(&none), sample(nullptr)), 1e-7);
  ShareSettings closed;
  closed.window = {0.5, 0.6};  // no step of 4 has progress in [0.5, 0.6]
  EXPECT_LE(relative_error(sample(&closed), sample(nullptr)), 1e-7);
}

// The batch rows an observer is shown.
struct RowRecorder : SharedAttentionObserver {
  std::set<int64_t> rows;
  void observe(const BlockRef&, int64_t row, const at::Tensor&, const at::Tensor&, const at::Tensor&,
               const ImageSpan&) override {
    rows.insert(row);
  }
};

// References sampled apart from the targets (each in a model call of its own,
// their tokens handed over in a ReferenceBank), here on the targets' own grid,
// give the targets of sampling them as rows of the batch, in every mode and
// with two weighted references; the references' own rows come back zero.
TEST_F(ShareProperties, ReferencesApartFromTheBatchSampleAsInIt) {
  for (ShareMode mode : {ShareMode::Full, ShareMode::Untwisted, ShareMode::StyleAligned, ShareMode::AlignedGen}) {
    for (const std::vector<double>& weights : {std::vector<double>{}, std::vector<double>{1.0, 3.0}}) {
      SCOPED_TRACE(std::string(share_mode_name(mode)) + " with " + std::to_string(weights.size()) + " weights");
      ShareSettings settings;
      settings.mode = mode;
      settings.blocks = SharePlan::parse("all");
      settings.reference_weights = weights;
      const int64_t references = weights.empty() ? 1 : 2;
      const int64_t targets = 3 - references;  // the golden file's three rows
      SamplingSetup in_batch = setup(3);
      for (int64_t r = 0; r < references; ++r) {  // image references: a latent of the golden file each
        in_batch.reference_paths.push_back(noised_path(golden_->tensor("in.img")[2 - r] * 0.5, in_batch.noise[r],
                                                       in_batch.times));
      }
      in_batch.share = &settings;
      SamplingSetup apart = in_batch;
      for (int64_t r = 0; r < references; ++r) apart.reference_ids.push_back(in_batch.conditioning.img_ids[r]);
      RowRecorder rows_together, rows_apart;
      in_batch.observer = &rows_together;
      apart.observer = &rows_apart;
      const at::Tensor together = sample_dit(*model_, in_batch), separately = sample_dit(*model_, apart);
      EXPECT_LE(relative_error(separately.narrow(0, references, targets), together.narrow(0, references, targets)),
                1e-5);
      EXPECT_EQ(separately.narrow(0, 0, references).abs().max().item<double>(), 0.0);
      EXPECT_EQ(rows_apart.rows, rows_together.rows) << "observers see the targets' batch rows either way";
      EXPECT_EQ(*rows_together.rows.begin(), references);
    }
  }
}

// The same under classifier-free guidance (Z-Image): the references' calls
// carry their conditional and negative rows, each group sharing with its own.
TEST(ReferencesApart, SampleAsInTheBatchUnderClassifierFreeGuidance) {
  const std::string path = test::golden_dir() + "/zimage_cfg_tiny.safetensors";
  const auto golden = SafetensorsFile::open(path);
  const auto model = load_dit(Weights::load(path));
  at::manual_seed(5);
  const at::Tensor short_caption = golden->tensor("in.cap_feats_0"), long_caption = golden->tensor("in.cap_feats_1");
  const int64_t length = long_caption.size(0);
  SamplingSetup in_batch;
  in_batch.noise = at::randn({3, 16, 16});
  in_batch.conditioning.img_ids = model->image_ids(3, 4, 4);
  const at::Tensor padded = at::constant_pad_nd(short_caption, {0, 0, 0, length - short_caption.size(0)});
  in_batch.conditioning.txt = at::stack({padded, long_caption, padded});  // [3, 31, 24]
  in_batch.conditioning.txt_mask =
      at::arange(length).unsqueeze(0) < at::tensor({short_caption.size(0), length, short_caption.size(0)}).unsqueeze(1);
  in_batch.conditioning.txt_ids = model->text_ids(3, length);
  in_batch.times = model->schedule(4, 16, std::nullopt);
  in_batch.guidance = {4.0, 1.0, 0.0, golden->tensor("in.neg_cap_feats").unsqueeze(0).expand({3, -1, -1}), {}, {}};
  in_batch.reference_paths = {noised_path(at::randn({16, 16}) * 0.7, in_batch.noise[0], in_batch.times)};
  for (ShareMode mode : {ShareMode::Untwisted, ShareMode::StyleAligned}) {
    SCOPED_TRACE(share_mode_name(mode));
    ShareSettings settings;
    settings.mode = mode;
    settings.blocks = SharePlan::parse("all");
    in_batch.share = &settings;
    SamplingSetup apart = in_batch;
    apart.reference_ids = {in_batch.conditioning.img_ids[0]};
    const at::Tensor together = sample_dit(*model, in_batch), separately = sample_dit(*model, apart);
    EXPECT_LE(relative_error(separately.narrow(0, 1, 2), together.narrow(0, 1, 2)), 1e-5);
    SamplingSetup alone = in_batch;
    alone.share = nullptr;
    EXPECT_GT(relative_error(separately.narrow(0, 1, 2), sample_dit(*model, alone).narrow(0, 1, 2)), 1e-3)
        << "the targets must feel the reference";
  }
}

// A row on a grid of its own must be one of the references the settings count.
TEST_F(ShareProperties, AGridOfItsOwnOutsideTheReferencesIsRefused) {
  ShareSettings settings;  // one reference
  SamplingSetup s = setup(3);
  s.share = &settings;
  for (int64_t r = 0; r < 2; ++r) {
    s.reference_paths.push_back(noised_path(golden_->tensor("in.img")[2], s.noise[r], s.times));
    s.reference_ids.push_back(s.conditioning.img_ids[r]);
  }
  EXPECT_THROW(sample_dit(*model_, s), InputError);
  s.reference_paths.resize(1);
  s.reference_ids = {at::Tensor(), s.conditioning.img_ids[1]};
  EXPECT_THROW(sample_dit(*model_, s), InputError) << "a grid of its own needs its path";
}

TEST_F(ShareProperties, BlockRangesPastTheModelAreUsageErrors) {
  ShareSettings settings;
  settings.blocks = SharePlan::parse("single:0-5");
  EXPECT_THROW(sample(&settings), UsageError);
}

const RopeLayout kFlux1Rope{{16, 56, 56}, {AxisRole::Index, AxisRole::Row, AxisRole::Column}, 10000};

TEST(KeyScales, BandEndsAreSHfAndSLf) {
  const RopeLayout& axes = kFlux1Rope;
  const at::Tensor flat = key_scale_vector(axes, 0.3, 1.7, 2.0, Axis0Mode::Flat);
  ASSERT_EQ(flat.numel(), 128);
  for (int64_t d = 0; d < 16; ++d) EXPECT_FLOAT_EQ(flat[d].item<float>(), 1.7f) << "flat axis 0 is s_lf";
  for (int64_t start : {16, 72}) {  // the two spatial axes
    EXPECT_FLOAT_EQ(flat[start].item<float>(), 0.3f);        // pair 0, highest frequency
    EXPECT_FLOAT_EQ(flat[start + 1].item<float>(), 0.3f);    // its second coordinate
    EXPECT_FLOAT_EQ(flat[start + 54].item<float>(), 1.7f);   // last pair, lowest frequency
    EXPECT_FLOAT_EQ(flat[start + 55].item<float>(), 1.7f);
    // pair 9 of 28: d = 9/27, s = 0.3 + 1.4 d^2
    EXPECT_NEAR(flat[start + 18].item<float>(), 0.3 + 1.4 * (9.0 / 27) * (9.0 / 27), 1e-6);
    for (int64_t pair = 1; pair < 28; ++pair) {
      EXPECT_GT(flat[start + 2 * pair].item<float>(), flat[start + 2 * pair - 2].item<float>());
    }
  }
  const at::Tensor match = key_scale_vector(axes, 0.3, 1.7, 1.0, Axis0Mode::Match);
  EXPECT_FLOAT_EQ(match[0].item<float>(), 0.3f);
  EXPECT_FLOAT_EQ(match[14].item<float>(), 1.7f);
  EXPECT_NEAR(match[2].item<float>(), 0.3 + 1.4 / 7, 1e-6) << "beta 1 is a straight ramp over 8 pairs";
  const RopeLayout one_pair{{2}, {AxisRole::Row}, 10000};
  EXPECT_FLOAT_EQ(key_scale_vector(one_pair, 0.3, 1.7, 2.0, Axis0Mode::Match)[0].item<float>(), 1.7f)
      << "a single pair counts as the low end";
}

// FLUX.2 (METHOD section 8): t and l are index axes and follow axis0; h and w ramp.
TEST(KeyScales, IndexAndSequenceAxesFollowAxis0) {
  const RopeLayout flux2{{4, 4, 4, 4}, {AxisRole::Index, AxisRole::Row, AxisRole::Column, AxisRole::Sequence}, 2000};
  const at::Tensor flat = key_scale_vector(flux2, 0.3, 1.7, 1.0, Axis0Mode::Flat);
  ASSERT_EQ(flat.numel(), 16);
  for (int64_t d : {0, 1, 2, 3, 12, 13, 14, 15}) EXPECT_FLOAT_EQ(flat[d].item<float>(), 1.7f) << d;
  for (int64_t start : {4, 8}) {
    EXPECT_FLOAT_EQ(flat[start].item<float>(), 0.3f);
    EXPECT_FLOAT_EQ(flat[start + 2].item<float>(), 1.7f);
  }
  const at::Tensor match = key_scale_vector(flux2, 0.3, 1.7, 1.0, Axis0Mode::Match);
  for (int64_t start : {0, 4, 8, 12}) {
    EXPECT_FLOAT_EQ(match[start].item<float>(), 0.3f) << start;
    EXPECT_FLOAT_EQ(match[start + 2].item<float>(), 1.7f) << start;
  }
}

TEST(KnobSchedule, KnobsMoveFromStartToEndAlongTheCurve) {
  ShareSettings settings;
  EXPECT_DOUBLE_EQ(knobs_at(settings, 0, 28).s_hf, 0.25);
  EXPECT_DOUBLE_EQ(knobs_at(settings, 27, 28).s_hf, 0.75);
  EXPECT_DOUBLE_EQ(knobs_at(settings, 27, 28).s_lf, 1.4);
  EXPECT_DOUBLE_EQ(knobs_at(settings, 0, 1).s_lf, 1.0) << "one step has progress 0";
  settings.curve = Curve::Smoothstep;
  EXPECT_NEAR(knobs_at(settings, 1, 3).s_hf, 0.5, 1e-12);  // smoothstep(0.5) = 0.5
  EXPECT_NEAR(curve_value(Curve::Smoothstep, 0.25), 0.15625, 1e-12);
  EXPECT_NEAR(curve_value(Curve::Cosine, 0.25), 0.5 * (1 - std::cos(M_PI / 4)), 1e-12);
  settings.window = {0.25, 0.75};
  EXPECT_FALSE(knobs_at(settings, 0, 5).active);
  EXPECT_TRUE(knobs_at(settings, 1, 5).active);
  EXPECT_TRUE(knobs_at(settings, 3, 5).active);
  EXPECT_FALSE(knobs_at(settings, 4, 5).active);
}

TEST(SharePlanSpec, ParsesKindsAndRangesAndRejectsNonsense) {
  const std::vector<BlockGroup> flux{{"double", 19}, {"single", 38}};
  const SharePlan plan = SharePlan::parse("double:1-2,single:5").bind(flux, "single");
  EXPECT_FALSE(plan.shares({"double", 0}));
  EXPECT_TRUE(plan.shares({"double", 2}));
  EXPECT_TRUE(plan.shares({"single", 5}));
  EXPECT_FALSE(plan.shares({"single", 4}));
  EXPECT_TRUE(SharePlan::parse("all").bind(flux, "single").shares({"double", 18}));
  EXPECT_FALSE(SharePlan::parse("single").bind(flux, "single").shares({"double", 0}));
  const SharePlan defaults = SharePlan::parse("default").bind(flux, "single");
  EXPECT_TRUE(defaults.shares({"single", 37}));
  EXPECT_FALSE(defaults.shares({"double", 0}));
  for (const char* bad : {"", "double:", "double:3-1", "single:a-b", "all:1-2", "double:-1", "de fault", "x.y"}) {
    SCOPED_TRACE(bad);
    EXPECT_THROW(SharePlan::parse(bad), UsageError);
  }
  // Group names are the model's: another family's groups, or a block past the end, fail when bound.
  EXPECT_THROW(SharePlan::parse("layers").bind(flux, "single"), UsageError);
  EXPECT_THROW(SharePlan::parse("single:38").bind(flux, "single"), UsageError);
  EXPECT_NO_THROW(SharePlan::parse("layers:0-9,refiner").bind({{"refiner", 2}, {"layers", 30}}, "layers"));
}

// Records what the target rows' shared attention saw.
class RecordingObserver : public SharedAttentionObserver {
 public:
  std::vector<at::Tensor> queries, keys;
  void observe(const BlockRef&, int64_t, const at::Tensor& q, const at::Tensor& k, const at::Tensor&,
               const ImageSpan&) override {
    queries.push_back(q.clone());
    keys.push_back(k.clone());
  }
};

TEST(StyleAligned, TargetQueriesAndKeysCarryTheReferenceStatistics) {
  const int64_t heads = 2, txt = 3, img = 12, dim = 8;
  const RopeLayout rope{{2, 2, 4}, {AxisRole::Index, AxisRole::Row, AxisRole::Column}, 10000};
  AttentionCall call;
  call.block = BlockRef{"single", 0};
  call.q = at::randn({2, heads, txt + img, dim});
  call.k = at::randn({2, heads, txt + img, dim});
  call.v = at::randn({2, heads, txt + img, dim});
  call.pe = rope_table(at::zeros({2, txt + img, 3}), rope.axes_dim, rope.theta);  // position 0: RoPE is identity
  call.image.assign(2, ImageSpan{txt, img, 3, 4});
  call.rope = &rope;
  call.q[0] = call.q[0] * 3.0 + 5.0;  // the reference's own statistics
  call.k[0] = call.k[0] * 0.5 - 2.0;
  ShareSettings settings;
  settings.mode = ShareMode::StyleAligned;
  settings.blocks = settings.blocks.bind({{"single", 1}}, "single");
  RecordingObserver observer;
  SharedAttention hook(settings, StepKnobs{}, rope, {}, &observer);
  hook.attend(call);
  ASSERT_EQ(observer.queries.size(), 1u);
  const at::Tensor target_q = observer.queries[0].narrow(1, txt, img);  // [H, L_img, D]
  const at::Tensor ref_q = call.q[0].narrow(1, txt, img);
  EXPECT_LE(relative_error(target_q.mean(1), ref_q.mean(1)), 1e-5);
  EXPECT_LE(relative_error(target_q.std(1), ref_q.std(1)), 1e-3);
  const at::Tensor target_k = observer.keys[0].narrow(1, txt, img);
  const at::Tensor ref_k = call.k[0].narrow(1, txt, img);
  EXPECT_LE(relative_error(target_k.mean(1), ref_k.mean(1)), 1e-5);
  EXPECT_LE(relative_error(target_k.std(1), ref_k.std(1)), 1e-3);
  EXPECT_TRUE(at::equal(observer.queries[0].narrow(1, 0, txt), call.q[1].narrow(1, 0, txt)))
      << "text tokens are not normalised";
}

// Several weighted references (METHOD section 4): rows are drawn from a pool
// of random rows with real RoPE positions on one 3x4 grid, so that a batch can
// hold the same row twice.
class WeightedReferences : public ::testing::Test {
 protected:
  static constexpr int64_t kHeads = 2, kTxt = 3, kImg = 12, kDim = 8;
  const RopeLayout rope_{{2, 2, 4}, {AxisRole::Index, AxisRole::Row, AxisRole::Column}, 10000};
  at::Tensor q_ = at::randn({4, kHeads, kTxt + kImg, kDim}), k_ = at::randn({4, kHeads, kTxt + kImg, kDim}),
             v_ = at::randn({4, kHeads, kTxt + kImg, kDim});

  // The untwisted shared attention of the pool rows `rows` (references
  // first) -> [rows, L, H*D].
  at::Tensor attend(const std::vector<int64_t>& rows, std::vector<double> weights,
                    ShareMode mode = ShareMode::Untwisted) const {
    const at::Tensor index = at::tensor(rows);
    AttentionCall call;
    call.block = BlockRef{"single", 0};
    call.q = q_.index_select(0, index);
    call.k = k_.index_select(0, index);
    call.v = v_.index_select(0, index);
    const auto batch = static_cast<int64_t>(rows.size());
    const at::Tensor ids = at::cat({at::zeros({batch, kTxt, 3}), image_position_ids(batch, 3, 4)}, 1);
    call.pe = rope_table(ids, rope_.axes_dim, rope_.theta);
    call.image.assign(rows.size(), ImageSpan{kTxt, kImg, 3, 4});
    call.rope = &rope_;
    ShareSettings settings;
    settings.mode = mode;
    settings.blocks = settings.blocks.bind({{"single", 1}}, "single");
    settings.reference_weights = std::move(weights);
    return SharedAttention(settings, StepKnobs{true, 0.4, 1.3}, rope_).attend(call);
  }
};

TEST_F(WeightedReferences, OneReferenceOfWeightOneIsTheSingleReference) {
  EXPECT_TRUE(at::equal(attend({0, 2, 3}, {1.0}), attend({0, 2, 3}, {})));
}

TEST_F(WeightedReferences, TwoIdenticalReferencesOfWeightOneAreOneOfWeightTwo) {
  const at::Tensor twice = attend({0, 0, 2, 3}, {1.0, 1.0});
  const at::Tensor doubled = attend({0, 2, 3}, {2.0});
  EXPECT_LE(relative_error(twice.narrow(0, 2, 2), doubled.narrow(0, 1, 2)), 1e-5);
  EXPECT_GT(relative_error(doubled.narrow(0, 1, 2), attend({0, 2, 3}, {}).narrow(0, 1, 2)), 1e-3)
      << "the weight must change the targets";
  EXPECT_TRUE(at::equal(twice[0], doubled[0])) << "a reference attends to itself alone";
}

TEST_F(WeightedReferences, WeightZeroRemovesThatReference) {
  const at::Tensor without_second = attend({0, 1, 2}, {1.0, 0.0});
  EXPECT_LE(relative_error(without_second[2], attend({0, 2}, {})[1]), 1e-6);
  const at::Tensor none = attend({0, 2}, {}, ShareMode::None);
  EXPECT_LE(relative_error(attend({0, 2}, {0.0})[1], none[1]), 1e-6);
  EXPECT_GT(relative_error(attend({0, 1, 2}, {1.0, 1.0})[2], without_second[2]), 1e-3)
      << "the second reference counts at weight 1";
}

TEST_F(WeightedReferences, NegativeOrNonFiniteWeightsAreRefused) {
  EXPECT_THROW(attend({0, 2}, {-1.0}), UsageError);
  EXPECT_THROW(attend({0, 2}, {std::nan("")}), UsageError);
}

TEST(AlignedGen, NoReferenceKeyTakesTheRotationOfAnyTargetQuery) {
  const int64_t h = 5, w = 7;
  const RopeLayout rope{{4, 6, 6}, {AxisRole::Index, AxisRole::Row, AxisRole::Column}, 10000};
  const at::Tensor ids = image_position_ids(1, h, w);  // [1, L, 3]
  const at::Tensor target = rope_table(ids, rope.axes_dim, rope.theta).reshape({h * w, -1});  // [L, D*2]
  // The reference keys' own rotation, then the column shift.
  const at::Tensor reference =
      at::matmul(column_shift(rope, w), rope_table(ids, rope.axes_dim, rope.theta)).reshape({h * w, -1});
  const at::Tensor distance = at::cdist(reference.to(at::kDouble), target.to(at::kDouble));  // [L, L]
  EXPECT_GT(distance.min().item<double>(), 1e-3);
  const at::Tensor unshifted = at::cdist(target.to(at::kDouble), target.to(at::kDouble));
  EXPECT_LT(unshifted.diagonal().max().item<double>(), 1e-6) << "the check itself finds coinciding positions";
}

TEST(Adain, MatchesReferenceMomentsAndBlends) {
  const at::Tensor x = at::randn({3, 50, 4}), reference = at::randn({3, 40, 4}) * 2 + 1;
  const at::Tensor moved = adain(x, reference);
  EXPECT_LE(relative_error(moved.mean(1), reference.mean(1)), 1e-5);
  EXPECT_LE(relative_error(moved.std(1), reference.std(1)), 1e-3);
  EXPECT_TRUE(at::equal(blend_adain(x, reference, 0.0), x));
  EXPECT_LE(relative_error(blend_adain(x, reference, 0.5), 0.5 * x + 0.5 * moved), 1e-6);
}

}  // namespace
}  // namespace untwist
