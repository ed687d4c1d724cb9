#include "serve/job_runner.h"

#include <c10/util/Exception.h>

#include <filesystem>
#include <random>

#include "io/image_file.h"
#include "util/errors.h"

namespace untwist::serve {

namespace {

// Thrown from the sampler's step callback to stop a cancelled job.
struct JobCancelled {};

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

std::string new_job_id() {
  static std::mutex mutex;
  static std::mt19937_64 rng(std::random_device{}());
  std::lock_guard<std::mutex> lock(mutex);
  static const char* digits = "0123456789abcdef";
  const uint64_t value = rng();
  std::string id(16, '0');
  for (int i = 0; i < 16; ++i) id[static_cast<size_t>(i)] = digits[(value >> (4 * i)) & 0xF];
  return id;
}

bool is_job_id(const std::string& text) {
  if (text.size() != 16) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

JobRunner::JobRunner(Engine& engine, JobStore& store, std::string jobs_dir, size_t queue_limit)
    : engine_(engine), store_(store), jobs_dir_(std::move(jobs_dir)), queue_limit_(queue_limit) {
  worker_ = std::thread([this] { work(); });
}

JobRunner::~JobRunner() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    cancel_running_ = true;
  }
  wake_worker_.notify_all();
  worker_.join();
}

void JobRunner::changed() {
  ++version_;
  wake_watchers_.notify_all();
}

std::optional<std::string> JobRunner::submit(const JobRequest& request, const at::Tensor& reference) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (queue_.size() >= queue_limit_ || stopping_) return std::nullopt;
  JobRecord record;
  record.id = new_job_id();
  record.created = now_seconds();
  record.status = "queued";
  record.request = request.to_json();
  store_.insert(record);
  queue_.push_back({record.id, request, reference});
  changed();
  lock.unlock();
  wake_worker_.notify_one();
  return record.id;
}

JobRunner::Cancel JobRunner::cancel(const std::string& id) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (id == running_id_) {
    cancel_running_ = true;
    return Cancel::Stopping;
  }
  for (auto it = queue_.begin(); it != queue_.end(); ++it) {
    if (it->id != id) continue;
    queue_.erase(it);
    JobRecord record;
    record.id = id;
    record.status = "cancelled";
    store_.finish(record);
    changed();
    return Cancel::Cancelled;
  }
  lock.unlock();
  return store_.find(id) ? Cancel::Finished : Cancel::Unknown;
}

std::optional<double> JobRunner::progress(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (id == running_id_) return running_progress_;
  for (const Pending& job : queue_) {
    if (job.id == id) return 0.0;
  }
  return std::nullopt;
}

uint64_t JobRunner::version() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return version_;
}

uint64_t JobRunner::wait_for_change(uint64_t seen, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mutex_);
  wake_watchers_.wait_for(lock, timeout, [&] { return version_ != seen || stopping_; });
  return version_;
}

size_t JobRunner::queued() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return queue_.size();
}

void JobRunner::work() {
  for (;;) {
    Pending job;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_worker_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
      running_id_ = job.id;
      running_progress_ = 0;
      cancel_running_ = false;
      store_.set_running(job.id);
      changed();
    }
    run_job(job);
    std::lock_guard<std::mutex> lock(mutex_);
    running_id_.clear();
    changed();
  }
}

void JobRunner::run_job(const Pending& job) {
  namespace fs = std::filesystem;
  const JobRequest& request = job.request;
  JobRecord record;
  record.id = job.id;
  const fs::path folder = fs::path(jobs_dir_) / job.id;
  try {
    fs::create_directories(folder);
    const int steps = engine_.steps_for(request);
    const int inversion_calls = request.invert_reference ? solver_model_calls(request.reference_solver, steps) : 0;
    const int total = inversion_calls + steps * static_cast<int>(request.modes.size());
    record.recipe = engine_.recipe(request);
    record.images = nlohmann::json::array();
    record.metrics = nlohmann::json::object();
    const auto progress_to = [&](int done) {  // stops here when the job was cancelled
      std::lock_guard<std::mutex> lock(mutex_);
      if (cancel_running_) throw JobCancelled{};
      running_progress_ = static_cast<double>(done) / total;
      changed();
    };
    at::Tensor reference_path;  // the reference image's inversion, followed in every mode
    if (request.invert_reference) {
      int calls = 0;
      reference_path = engine_.invert_reference(request, job.reference, [&] { progress_to(++calls); });
    }
    bool attention_drawn = false;
    for (size_t m = 0; m < request.modes.size(); ++m) {
      const ShareMode mode = request.modes[m];
      const std::string mode_name = share_mode_name(mode);
      const auto on_step = [&, m](int step) { progress_to(inversion_calls + static_cast<int>(m) * steps + step + 1); };
      const bool draw_attention = request.attention && !attention_drawn && mode != ShareMode::None;
      const std::string attention_file = "attention-" + mode_name + ".png";
      const ModeResult result =
          engine_.run(request, job.reference, reference_path, mode, on_step,
                      draw_attention ? (folder / attention_file).string() : "");
      if (draw_attention && fs::exists(folder / attention_file)) {
        attention_drawn = true;
        record.metrics["attention"] = {{"mode", mode_name}, {"file", attention_file}};
      }
      nlohmann::json share = request.to_json()["share"];
      share["mode"] = mode_name;
      for (int64_t i = 0; i < result.images.size(0); ++i) {
        const bool reference = i == 0;
        const std::string prompt = reference ? request.reference_prompt : request.targets[static_cast<size_t>(i - 1)];
        const std::string file = mode_name + "-" + std::to_string(i) + ".png";
        nlohmann::json recipe = record.recipe;
        recipe["share"] = share;
        recipe["prompt"] = prompt;
        recipe["seed"] = request.seed + static_cast<uint64_t>(i);
        recipe["role"] = reference ? "reference" : "target";
        if (reference && !request.reference_image.empty()) recipe["reference"] = "uploaded image";
        write_png((folder / file).string(), result.images[i], {{"untwist", recipe.dump()}});
        record.images.push_back({{"mode", mode_name},
                                 {"role", recipe["role"]},
                                 {"target", reference ? "reference" : prompt},
                                 {"prompt", prompt},
                                 {"seed", recipe["seed"]},
                                 {"file", file},
                                 {"metrics", result.metrics[static_cast<size_t>(i)]}});
      }
      record.metrics[mode_name] = result.summary;
    }
    record.status = "done";
  } catch (const JobCancelled&) {
    std::lock_guard<std::mutex> lock(mutex_);
    record.status = stopping_ ? "failed" : "cancelled";
    if (stopping_) record.error = "the server stopped while this job was running";
  } catch (const c10::Error& error) {
    record.status = "failed";
    record.error = error.what_without_backtrace();
  } catch (const std::bad_alloc&) {
    record.status = "failed";
    record.error = "out of memory";
  } catch (const std::exception& error) {
    record.status = "failed";
    record.error = error.what();
  }
  if (record.status != "done") {
    std::error_code ignored;
    fs::remove_all(folder, ignored);
    record.images = nlohmann::json();
  }
  store_.finish(record);
}

}  // namespace untwist::serve

