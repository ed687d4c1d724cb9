// `untwist serve`'s HTTP side: the JSON API over the job runner and store,
// server-sent progress, the jobs' PNGs and the embedded page, on cpp-httplib.
// Loopback only unless a token guards it; no part of a request ever names a
// file (job ids are checked against their form before they name a folder).
#pragma once
#include <memory>
#include <string>

#include "serve/engine.h"
#include "serve/job_request.h"

namespace untwist::serve {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8188;        // 0: a free port
  std::string data_dir;   // jobs.sqlite3, jobs/<id>/*.png, uploads/
  std::string token;      // required as "Authorization: Bearer T" when not empty
  size_t max_body = 32u << 20;
  size_t queue_limit = 16;
  int64_t max_pixels = 4096 * 4096;  // of an uploaded reference
  RequestLimits limits;
};

// Whether `host` is a loopback address (127.0.0.0/8, ::1, localhost).
bool is_loopback_host(const std::string& host);

// UsageError for a non-loopback host without a token, or no data folder;
// checked before anything loads.
void check_server_options(const ServerOptions& options);

class ApiServer {
 public:
  // Opens the store under options.data_dir (marking interrupted jobs failed)
  // and starts the worker; check_server_options' UsageErrors.
  ApiServer(Engine& engine, const ServerOptions& options);
  ~ApiServer();

  // Binds the address -> the port; UsageError when it cannot be bound.
  int bind();
  // Serves until stop() (from another thread or a signal handler's thread).
  void listen();
  void stop();
  // How many jobs the previous server left queued or running (now failed).
  int interrupted_jobs() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace untwist::serve
