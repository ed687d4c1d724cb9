// The number of CPU threads libtorch computes with.
#pragma once

namespace untwist {

// 0 means every core.
void set_compute_threads(int threads);

// Where the environment lacks util/idle_thread_policies.h's settings (the
// engine started directly, not through the `untwist` launcher), starts the
// program again with them, since the libraries read them only as they load;
// returns where nothing is left to set or where restarting is not possible.
void restart_with_sleeping_idle_threads(char** argv);
int compute_threads();

}  // namespace untwist
