// Rectified-flow inversion: the solvers against an ODE whose flow is known in
// closed form (order of accuracy of inversion and of invert-then-sample), the
// step indices the velocity sees, and `untwist invert` end to end on the tiny
// golden FLUX.1 pipeline.
#include <gtest/gtest.h>

#include <algorithm>

#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>

#include "io/image_file.h"
#include "io/safetensors.h"
#include "sample/inversion.h"
#include "test_support.h"
#include "util/errors.h"

namespace untwist {
namespace {

namespace fs = std::filesystem;

// dx/dt = lambda x + c cos t, elementwise, with a rate per channel: the exact
// flow from x(0) is x(t) = e^{lambda t} x(0) + c (e^{lambda t} lambda - lambda cos t + sin t) / (lambda^2 + 1).
struct LinearField {
  at::Tensor lambda;  // [C] float64
  double c = 0.7;

  LinearField() : lambda(at::linspace(-1.5, 1.2, 6, at::kDouble)) {}

  VelocityFn velocity() const {
    return [this](const at::Tensor& x, double t, int) { return lambda * x + c * std::cos(t); };
  }
  at::Tensor exact(const at::Tensor& x0, double t) const {
    const at::Tensor grow = at::exp(lambda * t);
    return grow * x0 + c * (grow * lambda - lambda * std::cos(t) + std::sin(t)) / (lambda * lambda + 1);
  }
};

// FLUX.1's shifted schedule shape (mu = 1.15): steps + 1 times from 1 to 0, denser near 1.
std::vector<double> shifted_schedule(int steps) {
  std::vector<double> times;
  const double mu = 1.15;
  for (int i = 0; i <= steps; ++i) {
    const double u = 1.0 - static_cast<double>(i) / steps;
    times.push_back(u <= 0 ? 0.0 : std::exp(mu) / (std::exp(mu) + (1 / u - 1)));
  }
  return times;
}

at::Tensor clean_state() {
  at::manual_seed(3);
  return at::randn({2, 5, 6}, at::kDouble);  // [B, L, C]
}

double max_error(const at::Tensor& a, const at::Tensor& b) { return (a - b).abs().max().item<double>(); }

// The largest error of the inverted trajectory against the exact flow.
double inversion_error(InversionSolver solver, int steps) {
  const LinearField field;
  const at::Tensor clean = clean_state();
  const std::vector<double> times = shifted_schedule(steps);
  const at::Tensor trajectory = invert_trajectory(field.velocity(), clean, times, solver);
  double error = 0;
  for (size_t i = 0; i < times.size(); ++i) {
    error = std::max(error, max_error(trajectory[static_cast<int64_t>(i)], field.exact(clean, times[i])));
  }
  return error;
}

double reconstruction_error(InversionSolver solver, int steps) {
  const LinearField field;
  const at::Tensor clean = clean_state();
  const std::vector<double> times = shifted_schedule(steps);
  const at::Tensor noise = invert_trajectory(field.velocity(), clean, times, solver)[0];
  return max_error(sample_with_solver(field.velocity(), noise, times, solver), clean);
}

const InversionSolver kAll[] = {InversionSolver::Euler, InversionSolver::RfSolver, InversionSolver::FireFlow};

TEST(InversionSolvers, TrajectoryHoldsTheCleanStateLastAndHasOneEntryPerTime) {
  const LinearField field;
  const at::Tensor clean = clean_state();
  for (InversionSolver solver : kAll) {
    SCOPED_TRACE(inversion_solver_name(solver));
    const at::Tensor trajectory = invert_trajectory(field.velocity(), clean, shifted_schedule(7), solver);
    EXPECT_EQ(trajectory.sizes().vec(), (std::vector<int64_t>{8, 2, 5, 6}));
    EXPECT_TRUE(at::equal(trajectory[7], clean));
    // The field's noise end is far from the data: inversion moved the state.
    EXPECT_GT(max_error(trajectory[0], clean), 0.5);
    // An unbatched state keeps its shape too.
    EXPECT_EQ(invert_trajectory(field.velocity(), clean[0], shifted_schedule(3), solver).sizes().vec(),
              (std::vector<int64_t>{4, 5, 6}));
  }
}

// Halving the step size divides a first-order solver's error by about 2 and a
// second-order one's by about 4.
TEST(InversionSolvers, InversionFollowsTheExactFlowToTheSolversOrder) {
  for (InversionSolver solver : kAll) {
    SCOPED_TRACE(inversion_solver_name(solver));
    const double coarse = inversion_error(solver, 32), fine = inversion_error(solver, 64);
    const double ratio = coarse / fine;
    if (solver == InversionSolver::Euler) {
      EXPECT_GT(ratio, 1.7);
      EXPECT_LT(ratio, 2.3);
    } else {
      EXPECT_GT(ratio, 3.3) << "errors " << coarse << " at 32 steps, " << fine << " at 64";
      EXPECT_LT(fine, 0.01);
    }
  }
  EXPECT_LT(inversion_error(InversionSolver::RfSolver, 32), inversion_error(InversionSolver::Euler, 32) / 10);
  EXPECT_LT(inversion_error(InversionSolver::FireFlow, 32), inversion_error(InversionSolver::Euler, 32) / 10);
}

// Inverting then sampling with the same solver comes back to the clean state
// with an error that falls with the step size at least as fast as the
// solver's order (for this linear field the midpoint-type steps' round trip
// is even third order: their errors up and down cancel to second order).
TEST(InversionSolvers, InvertingThenSamplingReconstructsTheCleanState) {
  for (InversionSolver solver : kAll) {
    SCOPED_TRACE(inversion_solver_name(solver));
    const double coarse = reconstruction_error(solver, 16), fine = reconstruction_error(solver, 32);
    const double ratio = coarse / fine;
    if (solver == InversionSolver::Euler) {
      EXPECT_GT(ratio, 1.7);
      EXPECT_LT(ratio, 2.3);
      EXPECT_LT(fine, 0.3);
    } else {
      EXPECT_GT(ratio, 3.4) << "errors " << coarse << " at 16 steps, " << fine << " at 32";
      EXPECT_LT(fine, 2e-3);
    }
  }
}

// Sampling with a solver follows the exact flow down from the noise end.
TEST(InversionSolvers, SamplingFollowsTheExactFlowToTheSolversOrder) {
  const LinearField field;
  const at::Tensor clean = clean_state();
  const at::Tensor noise = field.exact(clean, 1.0);
  const auto error = [&](InversionSolver solver, int steps) {
    return max_error(sample_with_solver(field.velocity(), noise, shifted_schedule(steps), solver), clean);
  };
  EXPECT_NEAR(error(InversionSolver::Euler, 16) / error(InversionSolver::Euler, 32), 2.0, 0.5);
  EXPECT_GT(error(InversionSolver::RfSolver, 16) / error(InversionSolver::RfSolver, 32), 3.4);
  EXPECT_GT(error(InversionSolver::FireFlow, 16) / error(InversionSolver::FireFlow, 32), 3.4);
}

// Each call sees the sampling step whose interval holds its time, in both
// directions, and the solvers make the number of calls they promise.
TEST(InversionSolvers, VelocitySeesTheSamplingStepOfItsInterval) {
  const std::vector<double> times = shifted_schedule(5);
  for (InversionSolver solver : kAll) {
    SCOPED_TRACE(inversion_solver_name(solver));
    for (bool inverting : {true, false}) {
      SCOPED_TRACE(inverting ? "inverting" : "sampling");
      std::vector<std::pair<double, int>> calls;
      const VelocityFn velocity = [&](const at::Tensor& x, double t, int step) {
        calls.emplace_back(t, step);
        return -x;
      };
      const at::Tensor state = at::ones({1, 2, 3});
      if (inverting) invert_trajectory(velocity, state, times, solver);
      else sample_with_solver(velocity, state, times, solver);
      EXPECT_EQ(static_cast<int>(calls.size()), solver_model_calls(solver, 5));
      for (const auto& [t, step] : calls) {
        ASSERT_GE(step, 0);
        ASSERT_LT(step, 5);
        EXPECT_LE(t, times[static_cast<size_t>(step)] + 1e-12);
        EXPECT_GE(t, times[static_cast<size_t>(step) + 1] - 1e-12);
      }
      EXPECT_EQ(calls.front().second, inverting ? 4 : 0);
      EXPECT_EQ(calls.back().second, inverting ? 0 : 4);
      EXPECT_EQ(calls.front().first, inverting ? 0.0 : 1.0) << "the first call is at the starting end";
    }
  }
}

TEST(InversionSolvers, NonFiniteStateStopsWithTheStep) {
  const std::vector<double> times = shifted_schedule(4);
  const VelocityFn blows_up = [](const at::Tensor& x, double, int step) {
    return step == 2 ? at::full_like(x, std::numeric_limits<double>::infinity()) : x;
  };
  for (InversionSolver solver : kAll) {
    SCOPED_TRACE(inversion_solver_name(solver));
    try {
      invert_trajectory(blows_up, at::ones({1, 2, 3}), times, solver);
      ADD_FAILURE() << "no error";
    } catch (const DataError& error) {
      EXPECT_NE(std::string(error.what()).find("inversion"), std::string::npos) << error.what();
      EXPECT_NE(std::string(error.what()).find("step 2 of 4"), std::string::npos) << error.what();
    }
    try {
      sample_with_solver(blows_up, at::ones({1, 2, 3}), times, solver);
      ADD_FAILURE() << "no error";
    } catch (const DataError& error) {
      EXPECT_NE(std::string(error.what()).find("step 3 of 4"), std::string::npos) << error.what();
    }
  }
}

TEST(InversionSolvers, NamesAndSchedulesAreChecked) {
  for (const std::string& name : inversion_solver_names()) {
    EXPECT_EQ(inversion_solver_name(parse_inversion_solver(name)), name);
  }
  EXPECT_EQ(inversion_solver_names(), (std::vector<std::string>{"euler", "rf-solver", "fireflow"}));
  try {
    parse_inversion_solver("midpoint");
    ADD_FAILURE() << "no error";
  } catch (const UsageError& error) {
    EXPECT_NE(std::string(error.what()).find("euler, rf-solver or fireflow"), std::string::npos) << error.what();
  }
  const LinearField field;
  EXPECT_THROW(invert_trajectory(field.velocity(), clean_state(), {1.0}, InversionSolver::Euler), InputError);
  EXPECT_THROW(invert_trajectory(field.velocity(), clean_state(), {0.0, 1.0}, InversionSolver::Euler), InputError);
  EXPECT_THROW(sample_with_solver(field.velocity(), clean_state(), {1.0, 0.5, 0.5, 0.0}, InversionSolver::FireFlow),
               InputError);
}

// `untwist invert` on the tiny golden FLUX.1 transformer and autoencoder, with
// random tiny text encoders (as test_pipeline_e2e runs generate).
class InvertCommand : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(test::scratch_dir());
    components_ = new std::vector<std::string>(test::tiny_flux1_components(*dir_));
    // A smooth picture of another size and aspect: resized and centre-cropped to 32x48.
    const at::Tensor y = at::linspace(0, 1, 70).view({1, 70, 1}), x = at::linspace(0, 1, 50).view({1, 1, 50});
    const at::Tensor channel = at::arange(3).view({3, 1, 1}).to(at::kFloat);
    write_png(*dir_ + "/picture.png", (0.5 + 0.4 * at::sin(6 * x + 4 * y + 2 * channel)).clamp(0, 1));
  }

  // The command line with the tiny components, the picture and `more`;
  // `image` and `width` replace the defaults.
  static std::vector<std::string> args(const std::vector<std::string>& more, const std::string& image = "",
                                       const std::string& width = "32") {
    std::vector<std::string> all = {"invert"};
    all.insert(all.end(), components_->begin(), components_->end());
    *(std::find(all.begin(), all.end(), "-W") + 1) = width;
    all.insert(all.end(), {"--image", image.empty() ? *dir_ + "/picture.png" : image, "-p", "a striped painting"});
    all.insert(all.end(), more.begin(), more.end());
    return all;
  }

  // The figures `untwist invert` prints (-1 where missing).
  struct Printed {
    double reconstruction = -1;  // regenerated against the input
    double autoencoder = -1;     // the autoencoder round trip against the input
    double solver = -1;          // regenerated against the autoencoder round trip
  };
  static Printed printed_psnr(const std::string& output) {
    std::smatch match;
    const std::regex lines(R"(PSNR ([0-9.]+) dB \([^)]*\); autoencoder round trip ([0-9.]+) dB\n)"
                           R"(regenerated against the autoencoder round trip: ([0-9.]+) dB)");
    if (!std::regex_search(output, match, lines)) return {};
    return {std::stod(match[1]), std::stod(match[2]), std::stod(match[3])};
  }

  static std::string* dir_;
  static std::vector<std::string>* components_;
};

std::string* InvertCommand::dir_ = nullptr;
std::vector<std::string>* InvertCommand::components_ = nullptr;

TEST_F(InvertCommand, WritesTheRegeneratedImageWithItsRecipeAndPrintsBothPsnrs) {
  const std::string out = test::scratch_dir() + "/sub/regenerated.png";
  const auto run = test::run_untwist(args({"--steps", "4", "--solver", "rf-solver", "-o", out}));
  ASSERT_EQ(run.status, 0) << run.output;
  const at::Tensor image = read_image(out);
  ASSERT_EQ(image.sizes().vec(), (std::vector<int64_t>{3, 48, 32}));
  const auto recipe = nlohmann::json::parse(read_png_text(out).at("untwist"));
  EXPECT_EQ(recipe["command"], "invert");
  EXPECT_EQ(recipe["solver"], "rf-solver");
  EXPECT_EQ(recipe["steps"], 4);
  EXPECT_EQ(recipe["prompt"], "a striped painting");

  const auto [reconstruction, autoencoder, solver] = printed_psnr(run.output);
  ASSERT_GT(reconstruction, 0) << run.output;
  ASSERT_GT(autoencoder, 0) << run.output;
  ASSERT_GT(solver, 0) << run.output;
  // The printed figure is the written image's PSNR against the resized input
  // (up to the PNG's 8-bit rounding).
  const at::Tensor input = resize_and_crop(read_image(*dir_ + "/picture.png"), 48, 32);
  const double mse = (image - input).pow(2).mean().item<double>();
  EXPECT_NEAR(10 * std::log10(1 / mse), reconstruction, 0.3) << run.output;
  EXPECT_NEAR(recipe["psnr_db"].get<double>(), reconstruction, 0.01);
  EXPECT_NEAR(recipe["autoencoder_psnr_db"].get<double>(), autoencoder, 0.01);
}

// The regenerated image comes closer to the autoencoder's round trip (the
// image the clean latent decodes to) with a second-order solver than with
// Euler at the same steps: inversion and regeneration see the same prompt,
// schedule and steps.
TEST_F(InvertCommand, SecondOrderSolversReconstructBetterThanEuler) {
  const std::string out = test::scratch_dir();
  std::map<std::string, Printed> printed;
  for (const char* solver : {"euler", "rf-solver", "fireflow"}) {
    const auto run = test::run_untwist(args({"--steps", "20", "--solver", solver, "-o", out + "/" + solver + ".png"}));
    ASSERT_EQ(run.status, 0) << run.output;
    printed[solver] = printed_psnr(run.output);
    ASSERT_GT(printed[solver].solver, 0) << run.output;
  }
  // Measured: euler 16.2 dB, rf-solver 26.8 dB, fireflow 29.4 dB.
  EXPECT_GT(printed["rf-solver"].solver, printed["euler"].solver + 6);
  EXPECT_GT(printed["fireflow"].solver, printed["euler"].solver + 6);
  EXPECT_GT(printed["fireflow"].solver, 24);
}

TEST_F(InvertCommand, BadValuesAreUsageErrorsThatWriteNothing) {
  const std::string dir = test::scratch_dir();
  const std::string out = dir + "/out.png";
  struct Case {
    std::vector<std::string> more;
    std::string image, width, says;
  };
  const std::vector<Case> cases = {
      {{"--solver", "midpoint"}, "", "32", "euler, rf-solver or fireflow"},
      {{}, "", "18", "-W/-H must be multiples of"},
      {{}, dir + "/missing.png", "32", "missing.png"},
      {{"--steps", "0"}, "", "32", "--steps"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.says);
    std::vector<std::string> more = c.more;
    more.insert(more.end(), {"-o", out});
    const auto run = test::run_untwist(args(more, c.image, c.width));
    EXPECT_EQ(run.status, 2) << run.output;
    EXPECT_NE(run.output.find(c.says), std::string::npos) << run.output;
    EXPECT_FALSE(fs::exists(out));
  }
  const auto run = test::run_untwist(args({"-o", *dir_ + "/picture.png"}));
  EXPECT_EQ(run.status, 2) << "the output may not be the input image: " << run.output;
  EXPECT_TRUE(fs::is_empty(dir)) << "no temporary files are left";
}

}  // namespace
}  // namespace untwist
