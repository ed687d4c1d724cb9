#include "util/threads.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>

#include <thread>
#include <utility>
#include <vector>

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
  const std::pair<const char*, const char*> policies[] = {{"OMP_WAIT_POLICY", "PASSIVE"},
                                                          {"OPENBLAS_THREAD_TIMEOUT", "4"}};
  std::vector<const char*> chosen_here;
  for (const auto& [name, value] : policies) {
    if (std::getenv(name) == nullptr && setenv(name, value, 1) == 0) chosen_here.push_back(name);
  }
  if (chosen_here.empty()) return;
  execv("/proc/self/exe", argv);
  for (const char* name : chosen_here) unsetenv(name);  // exec failed: go on as started
}

}  // namespace untwist
