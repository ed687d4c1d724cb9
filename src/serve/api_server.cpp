#include "serve/api_server.h"

#include <c10/util/Exception.h>
#include <httplib.h>
#include <stb/stb_image.h>
#include <sys/socket.h>

#include <atomic>
#include <filesystem>
#include <mutex>

#include "io/atomic_file.h"
#include "io/file_bytes.h"
#include "io/image_file.h"
#include "serve/job_runner.h"
#include "serve/job_store.h"
#include "serve/page_files.h"
#include "util/errors.h"

namespace untwist::serve {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr uint64_t kMaxServedFile = 256u << 20;
constexpr int kHttpThreads = 16;

void send_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump() + "\n", "application/json");
}

void send_error(httplib::Response& res, int status, const std::string& message) {
  send_json(res, status, {{"error", message}});
}

// "path: what" (a DataError about a server-side file) -> "what", so that
// no path of the server reaches a client.
std::string without_path(const std::string& message, const std::string& path) {
  return message.rfind(path + ": ", 0) == 0 ? message.substr(path.size() + 2) : message;
}

// The database's path, its folder made first.
std::string store_path(const std::string& data_dir) {
  fs::create_directories(data_dir);
  return data_dir + "/jobs.sqlite3";
}

bool is_terminal(const std::string& status) {
  return status == "done" || status == "failed" || status == "cancelled";
}

std::string host_name_of(const std::string& header) {
  if (!header.empty() && header[0] == '[') return header.substr(0, header.find(']') + 1);
  return header.substr(0, header.find(':'));
}

}  // namespace

bool is_loopback_host(const std::string& host) {
  // Numeric 127.x.y.z only: a name such as 127.example.com may resolve anywhere.
  const bool ipv4_loopback =
      host.rfind("127.", 0) == 0 && host.find_first_not_of("0123456789.") == std::string::npos;
  return host == "localhost" || host == "::1" || host == "[::1]" || ipv4_loopback;
}

struct ApiServer::State {
  Engine& engine;
  ServerOptions options;
  JobStore store;
  JobRunner runner;
  httplib::Server http;
  std::atomic<bool> stopping{false};
  int port = 0;
  int listen_socket = -1;
  std::mutex rope_mutex;

  State(Engine& engine, const ServerOptions& options)
      : engine(engine),
        options(options),
        store(store_path(options.data_dir)),
        runner(engine, store, options.data_dir + "/jobs", options.queue_limit) {}

  json job_json(const JobRecord& record) const {
    const std::string base = "/api/jobs/" + record.id;
    json images = json::array();
    if (record.images.is_array()) {
      for (size_t i = 0; i < record.images.size(); ++i) {
        json image = record.images[i];
        image.erase("file");
        image["url"] = base + "/images/" + std::to_string(i);
        images.push_back(image);
      }
    }
    double progress = record.status == "done" ? 1.0 : 0.0;
    if (!is_terminal(record.status)) progress = runner.progress(record.id).value_or(progress);
    json job = {{"id", record.id},
                {"status", record.status},
                {"progress", progress},
                {"created", record.created},
                {"request", record.request},
                {"recipe", record.recipe.is_null() ? json::object() : record.recipe},
                {"images", images},
                {"metrics", record.metrics.is_null() ? json::object() : record.metrics}};
    if (record.finished > 0) job["finished"] = record.finished;
    if (!record.error.empty()) job["error"] = record.error;
    if (job["metrics"].contains("attention")) {
      job["attention_url"] = base + "/attention.png";
      job["metrics"].erase("attention");
    }
    return job;
  }

  // The record of a well-formed, known id; otherwise a 404 is sent.
  std::optional<JobRecord> known_job(const std::string& id, httplib::Response& res) const {
    std::optional<JobRecord> record;
    if (is_job_id(id)) record = store.find(id);
    if (!record) send_error(res, 404, "no job '" + id.substr(0, 64) + "'");
    return record;
  }

  void send_file(httplib::Response& res, const fs::path& path, const std::string& download_name) const {
    std::string bytes;
    try {
      bytes = read_file_bytes(path.string(), kMaxServedFile);
    } catch (const DataError&) {
      send_error(res, 404, "the file is gone from the server's data folder");
      return;
    }
    if (!download_name.empty()) res.set_header("Content-Disposition", "inline; filename=\"" + download_name + "\"");
    res.set_header("Cache-Control", "private, max-age=86400");
    res.set_content(bytes, "image/png");
    res.status = 200;
  }

  // Before every route: the token, the Host header (DNS rebinding), and JSON
  // bodies only (so a page elsewhere cannot post a form here).
  httplib::Server::HandlerResponse guard(const httplib::Request& req, httplib::Response& res) const {
    const bool api = req.path.rfind("/api/", 0) == 0;
    if (!options.token.empty()) {
      if (api && req.get_header_value("Authorization") != "Bearer " + options.token &&
          req.get_param_value("token") != options.token) {
        res.set_header("WWW-Authenticate", "Bearer");
        send_error(res, 401, "this server needs its token: Authorization: Bearer TOKEN");
        return httplib::Server::HandlerResponse::Handled;
      }
    } else if (!is_loopback_host(host_name_of(req.get_header_value("Host")))) {
      send_error(res, 403, "this server answers only to a loopback Host (start it with --token to serve others)");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (req.method == "POST" && req.get_header_value("Content-Type").rfind("application/json", 0) != 0) {
      send_error(res, 415, "send the job as Content-Type: application/json");
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  }

  void submit(const httplib::Request& req, httplib::Response& res) {
    JobRequest request;
    try {
      request = parse_job_request(req.body, options.limits);
      engine.check(request);
    } catch (const RequestError& error) {
      send_error(res, 400, error.what());
      return;
    } catch (const UsageError& error) {
      send_error(res, 400, error.what());
      return;
    }
    at::Tensor reference;
    if (!request.reference_image.empty()) {
      const std::string& bytes = request.reference_image;
      int width = 0, height = 0, channels = 0;
      if (!stbi_info_from_memory(reinterpret_cast<const stbi_uc*>(bytes.data()), static_cast<int>(bytes.size()),
                                 &width, &height, &channels)) {
        send_error(res, 400, "reference.image cannot be decoded");
        return;
      }
      if (static_cast<int64_t>(width) * height > options.max_pixels) {
        send_error(res, 400, "reference.image has " + std::to_string(width) + "x" + std::to_string(height) +
                                 " pixels, more than the limit of " + std::to_string(options.max_pixels));
        return;
      }
      // Through the CLI's checked decoder, which reads files: a name of ours.
      const std::string path = options.data_dir + "/uploads/" + new_job_id() + ".upload";
      fs::create_directories(options.data_dir + "/uploads");
      write_file_atomically(path, bytes);
      try {
        reference = engine.fit_reference(read_image(path));
      } catch (const DataError& error) {
        fs::remove(path);
        send_error(res, 400, "reference.image: " + without_path(error.what(), path));
        return;
      }
      fs::remove(path);
    }
    const std::optional<std::string> id = runner.submit(request, reference);
    if (!id) {
      res.set_header("Retry-After", "5");
      send_error(res, 429, "the queue is full (" + std::to_string(options.queue_limit) + " jobs); try again later");
      return;
    }
    res.set_header("Location", "/api/jobs/" + *id);
    send_json(res, 202, {{"id", *id}, {"url", "/api/jobs/" + *id}});
  }

  void history(const httplib::Request& req, httplib::Response& res) const {
    const auto number = [&](const char* name, int64_t fallback, int64_t low, int64_t high) -> std::optional<int64_t> {
      if (!req.has_param(name)) return fallback;
      const std::string text = req.get_param_value(name);
      if (text.empty() || text.size() > 12 || text.find_first_not_of("0123456789") != std::string::npos) {
        return std::nullopt;
      }
      const int64_t value = std::stoll(text);
      if (value < low || value > high) return std::nullopt;
      return value;
    };
    const auto offset = number("offset", 0, 0, int64_t{1} << 40), limit = number("limit", 20, 1, 100);
    if (!offset || !limit) {
      send_error(res, 400, "offset must be an integer >= 0 and limit one from 1 to 100");
      return;
    }
    json jobs = json::array();
    for (const JobRecord& record : store.page(*offset, *limit)) jobs.push_back(job_json(record));
    send_json(res, 200, {{"jobs", jobs}, {"total", store.count()}, {"offset", *offset}, {"limit", *limit}});
  }

  void cancel(const std::string& id, httplib::Response& res) {
    if (!is_job_id(id)) {
      send_error(res, 404, "no job '" + id.substr(0, 64) + "'");
      return;
    }
    switch (runner.cancel(id)) {
      case JobRunner::Cancel::Unknown:
        send_error(res, 404, "no job '" + id + "'");
        return;
      case JobRunner::Cancel::Cancelled:
        send_json(res, 200, {{"id", id}, {"status", "cancelled"}});
        return;
      case JobRunner::Cancel::Stopping:
        send_json(res, 202, {{"id", id}, {"status", "running"}, {"cancel", "stops at the next step"}});
        return;
      case JobRunner::Cancel::Finished:
        send_error(res, 409, "job '" + id + "' has already finished (" + store.find(id)->status + ")");
        return;
    }
  }

  // Server-sent events: the job's JSON each time it changes, until it ends.
  void events(const std::string& id, httplib::Response& res) {
    if (!known_job(id, res)) return;
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");
    res.set_chunked_content_provider("text/event-stream", [this, id](size_t, httplib::DataSink& sink) {
      std::string last;
      uint64_t seen = runner.version();
      auto quiet_since = std::chrono::steady_clock::now();
      while (!stopping) {
        const std::optional<JobRecord> record = store.find(id);
        if (!record) return false;
        const json job = job_json(*record);
        const std::string text = job.dump();
        if (text != last) {
          const std::string event = "event: job\ndata: " + text + "\n\n";
          if (!sink.write(event.data(), event.size())) return false;
          last = text;
          quiet_since = std::chrono::steady_clock::now();
        } else if (std::chrono::steady_clock::now() - quiet_since > std::chrono::seconds(15)) {
          static const std::string keep_alive = ": keep-alive\n\n";
          if (!sink.write(keep_alive.data(), keep_alive.size())) return false;
          quiet_since = std::chrono::steady_clock::now();
        }
        if (is_terminal(record->status)) {
          sink.done();
          return true;
        }
        seen = runner.wait_for_change(seen, std::chrono::milliseconds(500));
      }
      return false;
    });
  }

  void image(const std::string& id, const std::string& index_text, httplib::Response& res) const {
    const std::optional<JobRecord> record = known_job(id, res);
    if (!record) return;
    const size_t index = index_text.size() < 6 ? std::stoul(index_text) : SIZE_MAX;
    if (!record->images.is_array() || index >= record->images.size()) {
      send_error(res, 404, "job '" + id + "' has no image " + index_text.substr(0, 12));
      return;
    }
    const std::string file = record->images[index].value("file", "");
    send_file(res, fs::path(options.data_dir) / "jobs" / id / file, id + "-" + file);
  }

  void attention(const std::string& id, httplib::Response& res) const {
    const std::optional<JobRecord> record = known_job(id, res);
    if (!record) return;
    if (!record->metrics.is_object() || !record->metrics.contains("attention")) {
      send_error(res, 404, "job '" + id + "' drew no attention maps (ask with \"attention\": true)");
      return;
    }
    const std::string file = record->metrics["attention"].value("file", "");
    send_file(res, fs::path(options.data_dir) / "jobs" / id / file, id + "-" + file);
  }

  void rope_bands(httplib::Response& res) {
    const fs::path path = fs::path(options.data_dir) / "cache" / "rope-bands.png";
    {
      std::lock_guard<std::mutex> lock(rope_mutex);
      if (!fs::exists(path)) {
        fs::create_directories(path.parent_path());
        engine.write_rope_bands(path.string());
      }
    }
    send_file(res, path, "rope-bands.png");
  }

  void routes() {
    http.set_payload_max_length(options.max_body);
    // httplib's own options (SO_REUSEADDR), and the listening socket kept so
    // that bind() can lengthen its accept queue.
    http.set_socket_options([this](socket_t sock) {
      const int yes = 1;
      setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
      listen_socket = sock;
    });
    http.new_task_queue = [] { return new httplib::ThreadPool(kHttpThreads); };
    http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) { return guard(req, res); });
    http.set_post_routing_handler([](const httplib::Request&, httplib::Response& res) {
      res.set_header("X-Content-Type-Options", "nosniff");
    });
    http.set_error_handler([this](const httplib::Request&, httplib::Response& res) {
      if (!res.body.empty()) return;
      if (res.status == 413) {
        send_error(res, 413, "the request body is larger than the limit of " + std::to_string(options.max_body) +
                                 " bytes (--max-body)");
      } else {
        send_error(res, res.status, res.status == 404 ? "not found" : "HTTP status " + std::to_string(res.status));
      }
    });
    http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr error) {
      std::string message = "internal error";
      try {
        std::rethrow_exception(error);
      } catch (const c10::Error& e) {
        message = e.what_without_backtrace();
      } catch (const std::exception& e) {
        message = e.what();
      } catch (...) {
      }
      send_error(res, 500, message);
    });

    for (const char* path : {"/", "/app.js", "/style.css"}) {
      http.Get(path, [path](const httplib::Request&, httplib::Response& res) {
        const PageFile* file = find_page_file(path);
        res.set_content(reinterpret_cast<const char*>(file->data), file->size,
                        std::string(file->content_type) + "; charset=utf-8");
        res.set_header("Content-Security-Policy",
                       "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'");
      });
    }
    http.Get("/api/health", [this](const httplib::Request&, httplib::Response& res) {
      json health = engine.describe();
      health["status"] = "ok";
      health["queued"] = runner.queued();
      health["queue_limit"] = options.queue_limit;
      health["max_targets"] = options.limits.max_targets;
      health["max_steps"] = options.limits.max_steps;
      send_json(res, 200, health);
    });
    http.Post("/api/jobs", [this](const httplib::Request& req, httplib::Response& res) { submit(req, res); });
    http.Get("/api/jobs", [this](const httplib::Request& req, httplib::Response& res) { history(req, res); });
    http.Get("/api/rope-bands.png", [this](const httplib::Request&, httplib::Response& res) { rope_bands(res); });
    http.Get(R"(/api/jobs/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
      if (const auto record = known_job(req.matches[1], res)) send_json(res, 200, job_json(*record));
    });
    http.Delete(R"(/api/jobs/([^/]+))",
                [this](const httplib::Request& req, httplib::Response& res) { cancel(req.matches[1], res); });
    http.Get(R"(/api/jobs/([^/]+)/events)",
             [this](const httplib::Request& req, httplib::Response& res) { events(req.matches[1], res); });
    http.Get(R"(/api/jobs/([^/]+)/images/([0-9]+))", [this](const httplib::Request& req, httplib::Response& res) {
      image(req.matches[1], req.matches[2], res);
    });
    http.Get(R"(/api/jobs/([^/]+)/attention\.png)",
             [this](const httplib::Request& req, httplib::Response& res) { attention(req.matches[1], res); });
  }
};

void check_server_options(const ServerOptions& options) {
  if (!is_loopback_host(options.host) && options.token.empty()) {
    throw UsageError("--host " + options.host + " is not a loopback address: give --token T (or UNTWIST_TOKEN)");
  }
  if (options.data_dir.empty()) throw UsageError("--data: the server needs a data folder");
}

ApiServer::ApiServer(Engine& engine, const ServerOptions& options) {
  check_server_options(options);
  state_ = std::make_unique<State>(engine, options);
  state_->routes();
}

ApiServer::~ApiServer() { stop(); }

int ApiServer::bind() {
  const ServerOptions& options = state_->options;
  if (options.port == 0) {
    state_->port = state_->http.bind_to_any_port(options.host);
  } else if (state_->http.bind_to_port(options.host, options.port)) {
    state_->port = options.port;
  } else {
    state_->port = -1;
  }
  if (state_->port <= 0) {
    throw UsageError("cannot listen on " + options.host + ":" + std::to_string(options.port) +
                     " (in use, or not an address of this machine)");
  }
  // httplib listens with a backlog of 5, which drops connections in a burst
  // of clients; listening again on the same socket lengthens the queue.
  ::listen(state_->listen_socket, SOMAXCONN);
  return state_->port;
}

void ApiServer::listen() { state_->http.listen_after_bind(); }

void ApiServer::stop() {
  state_->stopping = true;
  state_->http.stop();
}

int ApiServer::interrupted_jobs() const { return state_->store.interrupted(); }

}  // namespace untwist::serve
