// How idle compute threads wait, as the environment tells libgomp (OpenMP:
// libtorch's element-wise work) and OpenBLAS (matmuls) before they load. By
// default both spin on the cores the other pool needs next (libgomp's
// threads, and OpenBLAS's, which call sched_yield for about 2^28 cycles
// before they sleep; bench/RESULTS.md, Threads, measures what that costs on
// 2 cores); these settings make them sleep (OPENBLAS_THREAD_TIMEOUT=4: the
// shortest spin). A variable the user set is left alone. Header-only: the
// launcher (app/launcher.cpp) links nothing else of untwist.
#pragma once
#include <cstdlib>

namespace untwist {

struct EnvironmentSetting {
  const char* name;
  const char* value;
};

constexpr EnvironmentSetting kIdleThreadPolicies[] = {{"OMP_WAIT_POLICY", "PASSIVE"},
                                                      {"OPENBLAS_THREAD_TIMEOUT", "4"}};

// Sets each policy the environment lacks -> how many it set.
inline int set_idle_thread_policies() {
  int set = 0;
  for (const EnvironmentSetting& policy : kIdleThreadPolicies) {
    if (std::getenv(policy.name) == nullptr && setenv(policy.name, policy.value, 1) == 0) ++set;
  }
  return set;
}

}  // namespace untwist
