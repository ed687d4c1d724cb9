#include "serve/job_store.h"

#include <sqlite3.h>

#include <chrono>

#include "util/errors.h"

namespace untwist::serve {

namespace {

// One prepared statement, finalized on every path out.
class Statement {
 public:
  Statement(sqlite3* db, const std::string& path, const char* sql) : db_(db), path_(path) {
    if (sqlite3_prepare_v2(db, sql, -1, &statement_, nullptr) != SQLITE_OK) fail("prepare");
  }
  ~Statement() { sqlite3_finalize(statement_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int index, const std::string& text) {
    if (sqlite3_bind_text(statement_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT) != SQLITE_OK)
      fail("bind");
    return *this;
  }
  Statement& bind(int index, double value) {
    if (sqlite3_bind_double(statement_, index, value) != SQLITE_OK) fail("bind");
    return *this;
  }
  Statement& bind(int index, int64_t value) {
    if (sqlite3_bind_int64(statement_, index, value) != SQLITE_OK) fail("bind");
    return *this;
  }
  // true while there is a row to read
  bool step() {
    const int status = sqlite3_step(statement_);
    if (status == SQLITE_ROW) return true;
    if (status != SQLITE_DONE) fail("step");
    return false;
  }
  std::string text(int column) const {
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(statement_, column));
    return text ? std::string(text, static_cast<size_t>(sqlite3_column_bytes(statement_, column))) : std::string();
  }
  double real(int column) const { return sqlite3_column_double(statement_, column); }
  int64_t integer(int column) const { return sqlite3_column_int64(statement_, column); }
  int changes() const { return sqlite3_changes(db_); }

 private:
  [[noreturn]] void fail(const char* what) const {
    fail_file(path_, std::string("job database ") + what + " failed: " + sqlite3_errmsg(db_));
  }
  sqlite3* db_;
  const std::string& path_;
  sqlite3_stmt* statement_ = nullptr;
};

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

nlohmann::json json_or_null(const std::string& text) {
  return text.empty() ? nlohmann::json() : nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
}

constexpr const char* kColumns = "id, created, finished, status, request, recipe, images, metrics, error";

JobRecord record_of(const Statement& row) {
  JobRecord record;
  record.id = row.text(0);
  record.created = row.real(1);
  record.finished = row.real(2);
  record.status = row.text(3);
  record.request = json_or_null(row.text(4));
  record.recipe = json_or_null(row.text(5));
  record.images = json_or_null(row.text(6));
  record.metrics = json_or_null(row.text(7));
  record.error = row.text(8);
  return record;
}

std::string dump_or_empty(const nlohmann::json& value) { return value.is_null() ? std::string() : value.dump(); }

}  // namespace

JobStore::JobStore(const std::string& path) : path_(path) {
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    const std::string message = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    fail_file(path, "cannot open the job database: " + message);
  }
  sqlite3_busy_timeout(db_, 5000);
  try {
    execute("PRAGMA journal_mode=WAL");
    execute("PRAGMA synchronous=NORMAL");
    execute(
        "CREATE TABLE IF NOT EXISTS jobs ("
        " seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, created REAL NOT NULL,"
        " finished REAL NOT NULL DEFAULT 0, status TEXT NOT NULL, request TEXT NOT NULL, recipe TEXT NOT NULL DEFAULT '',"
        " images TEXT NOT NULL DEFAULT '', metrics TEXT NOT NULL DEFAULT '', error TEXT NOT NULL DEFAULT '')");
    Statement interrupted(db_, path_,
                          "UPDATE jobs SET status = 'failed', finished = ?1, error = CASE status"
                          " WHEN 'running' THEN 'the server stopped while this job was running'"
                          " ELSE 'the server stopped before this job ran' END"
                          " WHERE status IN ('queued', 'running')");
    interrupted.bind(1, now_seconds()).step();
    interrupted_ = interrupted.changes();
  } catch (...) {
    sqlite3_close(db_);
    throw;
  }
}

JobStore::~JobStore() { sqlite3_close(db_); }

void JobStore::execute(const std::string& sql) const {
  char* message = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    const std::string what = message ? message : sqlite3_errmsg(db_);
    sqlite3_free(message);
    fail_file(path_, "job database: " + what);
  }
}

void JobStore::insert(const JobRecord& record) {
  std::lock_guard<std::mutex> lock(mutex_);
  Statement insert(db_, path_, "INSERT INTO jobs (id, created, status, request) VALUES (?1, ?2, ?3, ?4)");
  insert.bind(1, record.id).bind(2, record.created).bind(3, record.status).bind(4, record.request.dump()).step();
}

void JobStore::set_running(const std::string& id) {
  std::lock_guard<std::mutex> lock(mutex_);
  Statement update(db_, path_, "UPDATE jobs SET status = 'running' WHERE id = ?1");
  update.bind(1, id).step();
}

void JobStore::finish(const JobRecord& record) {
  std::lock_guard<std::mutex> lock(mutex_);
  Statement update(db_, path_,
                   "UPDATE jobs SET status = ?2, finished = ?3, recipe = ?4, images = ?5, metrics = ?6, error = ?7"
                   " WHERE id = ?1");
  update.bind(1, record.id)
      .bind(2, record.status)
      .bind(3, now_seconds())
      .bind(4, dump_or_empty(record.recipe))
      .bind(5, dump_or_empty(record.images))
      .bind(6, dump_or_empty(record.metrics))
      .bind(7, record.error)
      .step();
}

std::optional<JobRecord> JobStore::find(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  Statement select(db_, path_, (std::string("SELECT ") + kColumns + " FROM jobs WHERE id = ?1").c_str());
  select.bind(1, id);
  if (!select.step()) return std::nullopt;
  return record_of(select);
}

std::vector<JobRecord> JobStore::page(int64_t offset, int64_t limit) const {
  std::lock_guard<std::mutex> lock(mutex_);
  Statement select(db_, path_,
                   (std::string("SELECT ") + kColumns + " FROM jobs ORDER BY seq DESC LIMIT ?1 OFFSET ?2").c_str());
  select.bind(1, limit).bind(2, offset);
  std::vector<JobRecord> records;
  while (select.step()) records.push_back(record_of(select));
  return records;
}

int64_t JobStore::count() const {
  std::lock_guard<std::mutex> lock(mutex_);
  Statement select(db_, path_, "SELECT COUNT(*) FROM jobs");
  select.step();
  return select.integer(0);
}

}  // namespace untwist::serve
