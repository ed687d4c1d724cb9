#include "util/threads.h"

#include <ATen/Parallel.h>

#include <thread>

namespace untwist {

void set_compute_threads(int threads) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(threads);
}

int compute_threads() { return at::get_num_threads(); }

}  // namespace untwist
