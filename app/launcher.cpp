// `untwist`, the command users run: it sets how idle compute threads wait
// (util/idle_thread_policies.h), which the libraries read as they load, and
// becomes untwist-engine beside it. The engine, which links libtorch (about
// half a second to start), so starts once instead of starting and
// restarting itself with those settings.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "util/idle_thread_policies.h"

int main(int, char** argv) {
  untwist::set_idle_thread_policies();
  char self[4096];
  const ssize_t length = readlink("/proc/self/exe", self, sizeof(self) - 1);
  std::string engine = "untwist-engine";
  if (length > 0) {
    const std::string path(self, static_cast<size_t>(length));
    engine = path.substr(0, path.rfind('/') + 1) + engine;
  }
  execv(engine.c_str(), argv);
  std::fprintf(stderr, "error: cannot start %s: %s\n", engine.c_str(), std::strerror(errno));
  return 1;
}
