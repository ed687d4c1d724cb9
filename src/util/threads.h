// The number of CPU threads libtorch computes with.
#pragma once

namespace untwist {

// 0 means every core.
void set_compute_threads(int threads);

// libgomp reads OMP_WAIT_POLICY once, as it loads, and by default lets idle
// OpenMP threads spin, taking the cores OpenBLAS's own threads need for the
// next matmul (a forward pass measured 17-20% slower on 2 cores; see
// bench/RESULTS.md). Unless the user chose a policy, this starts the program
// again with passive waiting; it returns only where that is not possible.
void restart_with_passive_openmp_waiting(char** argv);
int compute_threads();

}  // namespace untwist
