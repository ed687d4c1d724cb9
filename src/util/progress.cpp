#include "util/progress.h"

#include <unistd.h>

#include <cstdio>

namespace untwist {

Progress::Progress(std::string label, int total)
    : label_(std::move(label)), total_(total), enabled_(isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()) {}

Progress::~Progress() {
  if (enabled_ && done_ > 0) std::fputc('\n', stderr);
}

void Progress::step() {
  ++done_;
  if (!enabled_) return;
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double eta = done_ > 0 ? elapsed / done_ * (total_ - done_) : 0.0;
  std::fprintf(stderr, "\r%s %d/%d  %.1fs elapsed  ETA %.1fs   ", label_.c_str(), done_, total_, elapsed, eta);
  std::fflush(stderr);
}

}  // namespace untwist
