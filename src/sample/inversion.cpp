#include "sample/inversion.h"

#include "util/errors.h"
#include "util/named_values.h"

namespace untwist {

namespace {

constexpr Named<InversionSolver> kSolvers[] = {{InversionSolver::Euler, "euler"},
                                    {InversionSolver::RfSolver, "rf-solver"},
                                    {InversionSolver::FireFlow, "fireflow"}};

void require_schedule(const std::vector<double>& times) {
  if (times.size() < 2) {
    throw InputError("a sampling schedule needs at least two times, got " + std::to_string(times.size()));
  }
  for (size_t i = 0; i + 1 < times.size(); ++i) {
    if (!(times[i + 1] < times[i])) {
      throw InputError("a sampling schedule must descend from noise to data; time " + std::to_string(i + 1) + " (" +
                       std::to_string(times[i + 1]) + ") is not below time " + std::to_string(i) + " (" +
                       std::to_string(times[i]) + ")");
    }
  }
}

// One pass of a solver over the schedule, sampling (times[0] -> times[T]) or
// inverting (times[T] -> times[0]), step by step.
class SolverPass {
 public:
  SolverPass(const VelocityFn& velocity, InversionSolver solver, bool inverting, int steps)
      : velocity_(velocity), solver_(solver), inverting_(inverting), steps_(steps) {}

  // The state at `to` from `state` at `from`, both ends of sampling step `step`'s interval.
  at::Tensor step(const at::Tensor& state, double from, double to, int step) {
    const double h = to - from;
    at::Tensor next;
    switch (solver_) {
      case InversionSolver::Euler:
        next = state + h * velocity_(state, from, step);
        break;
      case InversionSolver::RfSolver: {
        const at::Tensor v = velocity_(state, from, step);
        const at::Tensor v_half = velocity_(state + (h / 2) * v, from + h / 2, step);
        // x + h v + h^2/2 v' with v' = (v_half - v) / (h/2): the h^2/2 term is h (v_half - v).
        next = state + h * v + h * (v_half - v);
        break;
      }
      case InversionSolver::FireFlow: {
        // The previous step's midpoint velocity stands in for v(x, from).
        const at::Tensor v = carried_.defined() ? carried_ : velocity_(state, from, step);
        carried_ = velocity_(state + (h / 2) * v, from + h / 2, step);
        next = state + h * carried_;
        break;
      }
    }
    ++taken_;
    if (!at::isfinite(next).all().item<bool>()) {
      throw DataError(std::string(inverting_ ? "inversion" : "sampling") + " diverged (" +
                      inversion_solver_name(solver_) + "): the latent is not finite after step " +
                      std::to_string(taken_) + " of " + std::to_string(steps_));
    }
    return next;
  }

 private:
  const VelocityFn& velocity_;
  InversionSolver solver_;
  bool inverting_;
  int steps_;
  int taken_ = 0;
  at::Tensor carried_;  // FireFlow: the last midpoint velocity
};

}  // namespace

InversionSolver parse_inversion_solver(const std::string& text) { return parse_in(kSolvers, text, "solver"); }
const char* inversion_solver_name(InversionSolver solver) { return name_in(kSolvers, solver); }
std::vector<std::string> inversion_solver_names() { return names_of(kSolvers); }

int solver_model_calls(InversionSolver solver, int steps) {
  switch (solver) {
    case InversionSolver::Euler: return steps;
    case InversionSolver::RfSolver: return 2 * steps;
    case InversionSolver::FireFlow: return steps > 0 ? steps + 1 : 0;
  }
  return steps;
}

at::Tensor invert_trajectory(const VelocityFn& velocity, const at::Tensor& clean, const std::vector<double>& times,
                             InversionSolver solver) {
  require_schedule(times);
  const int steps = static_cast<int>(times.size()) - 1;
  SolverPass pass(velocity, solver, /*inverting=*/true, steps);
  std::vector<at::Tensor> states(times.size());
  states[static_cast<size_t>(steps)] = clean;
  for (int i = steps - 1; i >= 0; --i) {
    const auto n = static_cast<size_t>(i);
    states[n] = pass.step(states[n + 1], times[n + 1], times[n], i);
  }
  return at::stack(states, 0);
}

at::Tensor sample_with_solver(const VelocityFn& velocity, at::Tensor noise, const std::vector<double>& times,
                              InversionSolver solver) {
  require_schedule(times);
  if (solver == InversionSolver::Euler) return euler_sample(std::move(noise), times, velocity);
  const int steps = static_cast<int>(times.size()) - 1;
  SolverPass pass(velocity, solver, /*inverting=*/false, steps);
  for (int i = 0; i < steps; ++i) {
    const auto n = static_cast<size_t>(i);
    noise = pass.step(noise, times[n], times[n + 1], i);
  }
  return noise;
}

}  // namespace untwist
