// One worker thread and a bounded queue: jobs run one at a time on the
// engine, in the order they came. A cancelled job that is queued never runs;
// one that is running stops at its next sampling step. Progress lives here
// while a job runs; everything else goes to the store as it happens.
#pragma once
#include <ATen/ATen.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "serve/engine.h"
#include "serve/job_request.h"
#include "serve/job_store.h"

namespace untwist::serve {

class JobRunner {
 public:
  // jobs_dir: where each job's folder of PNGs goes.
  JobRunner(Engine& engine, JobStore& store, std::string jobs_dir, size_t queue_limit);
  // Stops the running job at its next step and waits for the worker.
  ~JobRunner();
  JobRunner(const JobRunner&) = delete;
  JobRunner& operator=(const JobRunner&) = delete;

  // Queues a checked request (reference: fitted image or undefined) -> its
  // id; nullopt when the queue is full.
  std::optional<std::string> submit(const JobRequest& request, const at::Tensor& reference);

  enum class Cancel { Unknown, Cancelled, Stopping, Finished };
  Cancel cancel(const std::string& id);

  // The progress (0..1) of a queued or running job.
  std::optional<double> progress(const std::string& id) const;

  // A counter that grows with every change of any job (queued, started,
  // stepped, finished); wait_for_change returns when it passes `seen` or
  // after `timeout`.
  uint64_t version() const;
  uint64_t wait_for_change(uint64_t seen, std::chrono::milliseconds timeout) const;

  size_t queued() const;

 private:
  struct Pending {
    std::string id;
    JobRequest request;
    at::Tensor reference;
  };
  void work();
  void run_job(const Pending& job);
  void changed();  // with mutex_ held

  Engine& engine_;
  JobStore& store_;
  std::string jobs_dir_;
  size_t queue_limit_;

  mutable std::mutex mutex_;
  mutable std::condition_variable wake_worker_, wake_watchers_;
  std::deque<Pending> queue_;
  std::string running_id_;
  double running_progress_ = 0;
  bool cancel_running_ = false;
  bool stopping_ = false;
  uint64_t version_ = 0;
  std::thread worker_;
};

// A fresh job id: 16 random hex digits.
std::string new_job_id();
// Whether text has the form of a job id (and so may name a folder).
bool is_job_id(const std::string& text);

}  // namespace untwist::serve
