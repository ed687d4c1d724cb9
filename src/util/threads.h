// The number of CPU threads libtorch computes with.
#pragma once

namespace untwist {

// 0 means every core.
void set_compute_threads(int threads);
int compute_threads();

}  // namespace untwist
