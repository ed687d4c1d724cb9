#include "util/threads.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <unistd.h>

#include <thread>

#include "util/idle_thread_policies.h"

namespace untwist {

void set_compute_threads(int threads) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(threads);
  // OpenBLAS's pthread build keeps a thread pool of its own for matmul.
  using SetThreads = void (*)(int);
  if (const auto openblas = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) {
    openblas(threads);
  }
}

int compute_threads() { return at::get_num_threads(); }

void restart_with_sleeping_idle_threads(char** argv) {
  if (set_idle_thread_policies() == 0) return;
  execv("/proc/self/exe", argv);  // returns only when it failed: go on as started
}

}  // namespace untwist
