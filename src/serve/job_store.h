// The server's history: one SQLite row per job (status, request, recipe,
// images, metrics), in DIR/jobs.sqlite3 beside the jobs' image folders. Each
// change is one transaction, so a crash leaves the previous state or the new
// one. Opening the store marks the jobs a dead server left queued or running
// as failed, so none is lost silently.
#pragma once
#include <cstdint>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

struct sqlite3;

namespace untwist::serve {

struct JobRecord {
  std::string id;
  double created = 0, finished = 0;  // Unix seconds; finished 0 while queued or running
  std::string status;                // queued, running, done, failed, cancelled
  nlohmann::json request, recipe, images, metrics;
  std::string error;
};

class JobStore {
 public:
  // DataError naming the file when the database cannot be opened or is not ours.
  explicit JobStore(const std::string& path);
  ~JobStore();
  JobStore(const JobStore&) = delete;
  JobStore& operator=(const JobStore&) = delete;

  // How many jobs opening the store found interrupted and marked failed.
  int interrupted() const { return interrupted_; }

  void insert(const JobRecord& record);
  void set_running(const std::string& id);
  // Sets the final status with what the job produced.
  void finish(const JobRecord& record);
  std::optional<JobRecord> find(const std::string& id) const;
  // Newest first.
  std::vector<JobRecord> page(int64_t offset, int64_t limit) const;
  int64_t count() const;

 private:
  void execute(const std::string& sql) const;
  std::string path_;
  sqlite3* db_ = nullptr;
  mutable std::mutex mutex_;
  int interrupted_ = 0;
};

}  // namespace untwist::serve
