// Rectified-flow inversion: the sampling ODE run backwards from a clean latent
// (t = 0) to the noise (t = 1) that regenerates it, and the matching forward
// samplers, with a first-order (Euler) or a second-order solver (RF-Solver,
// FireFlow), so that inverting and then sampling with the same solver and
// schedule comes back to the clean latent up to the solver's error.
#pragma once
#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "sample/euler.h"

namespace untwist {

enum class InversionSolver {
  // x <- x + h v(x, t): one model call per step, first order.
  Euler,
  // RF-Solver (Wang et al. 2024, "Taming Rectified Flow for Inversion and
  // Editing"): the second-order Taylor step x + h v + h^2/2 v', with the time
  // derivative v' taken by a finite difference against a half-step evaluation
  // at x + h/2 v, t + h/2. Two model calls per step.
  RfSolver,
  // FireFlow (Deng et al. 2024, "FireFlow: Fast Inversion of Rectified Flow
  // for Image Semantic Editing"): a midpoint step whose starting velocity is
  // the previous step's midpoint velocity, so every step after the first
  // costs one model call. Second order.
  FireFlow,
};

// The solvers' names ("euler", "rf-solver", "fireflow"): parse (UsageError
// listing the names), name, and every name in order.
InversionSolver parse_inversion_solver(const std::string& text);
const char* inversion_solver_name(InversionSolver solver);
std::vector<std::string> inversion_solver_names();

// Model calls of one pass of `solver` over `steps` steps.
int solver_model_calls(InversionSolver solver, int steps);

// `times` is the sampling schedule, T + 1 times from 1 (noise) down to 0
// (data), as DiffusionTransformer::schedule gives it; `velocity` is the
// rectified-flow velocity dx/dt (data at t = 0, noise at t = 1). Every call
// of `velocity` gets as its step the index i of the sampling step whose
// interval [times[i+1], times[i]] is being integrated, in either direction,
// so a per-step schedule (such as shared attention's) sees the same step in
// inversion and in sampling.
//
// Integrates from `clean` (the state at times[T], of any shape, usually
// [B, L, C]) up to times[0]. -> the trajectory [T + 1, ...clean's shape]:
// entry i is the state at times[i], entry T is `clean`, entry 0 the inverted
// noise. InputError for fewer than two times or times that do not descend;
// DataError naming the step if the state stops being finite.
at::Tensor invert_trajectory(const VelocityFn& velocity, const at::Tensor& clean, const std::vector<double>& times,
                             InversionSolver solver);

// Samples from `noise` (the state at times[0]) down to times[T] with
// `solver` (Euler is euler_sample): -> the state at times[T]. The same
// errors as invert_trajectory.
at::Tensor sample_with_solver(const VelocityFn& velocity, at::Tensor noise, const std::vector<double>& times,
                              InversionSolver solver);

}  // namespace untwist
