// The number of CPU threads libtorch computes with.
#pragma once

namespace untwist {

// 0 means every core.
void set_compute_threads(int threads);

// Both thread pools let idle threads spin by default, on the cores the other
// pool needs next: libgomp's OpenMP threads (libtorch's element-wise work)
// and OpenBLAS's threads (matmuls), which call sched_yield for about 2^28
// cycles before they sleep (bench/RESULTS.md, Threads, measures what that
// costs on 2 cores). Both libraries read their
// setting once, as they load, so this starts the program again with
// OMP_WAIT_POLICY=PASSIVE and OPENBLAS_THREAD_TIMEOUT=4 (the shortest spin),
// leaving alone a variable the user set; it returns where nothing is left to
// set or where restarting is not possible.
void restart_with_sleeping_idle_threads(char** argv);
int compute_threads();

}  // namespace untwist
