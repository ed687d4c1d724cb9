// `untwist serve` end to end: a real server process on a free loopback port,
// the toy model, every status code of the API, server-sent progress, cancel,
// persistence across a restart (and a kill), and a burst of concurrent
// submissions; then the same API over a tiny real FLUX.1 pipeline. Every
// wait is bounded.
#include <gtest/gtest.h>

#include <algorithm>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "io/image_file.h"
#include "io/safetensors.h"
#include "test_support.h"

namespace untwist::serve {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// An `untwist serve --port 0` child; the port comes from the URL it prints.
class ServerProcess {
 public:
  ServerProcess(const std::string& data_dir, const std::vector<std::string>& extra = {}) {
    int out[2];
    if (pipe(out) != 0) throw std::runtime_error("pipe");
    std::vector<std::string> args = {UNTWIST_BINARY, "--threads", "1", "serve", "--port", "0", "--data", data_dir};
    args.insert(args.end(), extra.begin(), extra.end());
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], 1);
      close(out[0]);
      close(out[1]);
      std::vector<char*> argv;
      for (auto& arg : args) argv.push_back(arg.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(out[1]);
    output_ = fdopen(out[0], "r");
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    char line[4096];
    while (std::chrono::steady_clock::now() < deadline && fgets(line, sizeof(line), output_)) {
      first_line_ = line;
      const auto at = first_line_.find("http://127.0.0.1:");
      if (at != std::string::npos) {
        port_ = std::stoi(first_line_.substr(at + 17));
        break;
      }
    }
    if (port_ <= 0) {
      stop(SIGKILL);
      throw std::runtime_error("the server printed no URL: " + first_line_);
    }
  }
  ~ServerProcess() { stop(SIGKILL); }

  // -> exit status (or 128 + signal)
  int stop(int signal_number = SIGTERM) {
    if (pid_ <= 0) return status_;
    kill(pid_, signal_number);
    int status = 0;
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(20ms);
    }
    pid_ = -1;
    if (output_) fclose(output_);
    output_ = nullptr;
    status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return status_;
  }

  int port() const { return port_; }
  const std::string& first_line() const { return first_line_; }

  httplib::Client client() const {
    httplib::Client client("127.0.0.1", port_);
    client.set_connection_timeout(10s);
    client.set_read_timeout(60s);
    client.set_write_timeout(60s);
    return client;
  }

 private:
  pid_t pid_ = -1;
  FILE* output_ = nullptr;
  int port_ = -1;
  int status_ = -1;
  std::string first_line_;
};

json body_of(const httplib::Result& result) {
  if (!result) return json();
  return json::parse(result->body, nullptr, false);
}

int status_of(const httplib::Result& result) { return result ? result->status : -1; }

httplib::Result post_job(httplib::Client& client, const json& job) {
  return client.Post("/api/jobs", job.dump(), "application/json");
}

json toy_job(int steps = 4) {
  return {{"reference", {{"prompt", "checked orange square on purple"}}},
          {"targets", {"circle", "triangle"}},
          {"modes", {"none", "full", "untwisted"}},
          {"seed", 7},
          {"steps", steps}};
}

// A job long enough to be caught running.
json slow_job() {
  return {{"reference", {{"prompt", "checked orange square on purple"}}},
          {"targets", {"circle", "triangle", "cross", "ring", "square", "diamond", "circle", "ring"}},
          {"modes", {"none", "full", "untwisted", "stylealigned", "alignedgen"}},
          {"steps", 200}};
}

// Polls until the job's status is one of `wanted` (bounded).
json wait_for(httplib::Client& client, const std::string& id, const std::vector<std::string>& wanted,
              std::chrono::seconds limit = 120s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  json job;
  while (std::chrono::steady_clock::now() < deadline) {
    job = body_of(client.Get(("/api/jobs/" + id).c_str()));
    if (job.is_object() && std::find(wanted.begin(), wanted.end(), job.value("status", "")) != wanted.end()) {
      return job;
    }
    std::this_thread::sleep_for(50ms);
  }
  ADD_FAILURE() << "job " << id << " never reached the wanted status; last: " << job.dump();
  return job;
}

TEST(ServeApi, GenerateFollowFetchAndList) {
  const std::string data = test::scratch_dir();
  ServerProcess server(data);
  httplib::Client client = server.client();

  const auto health = client.Get("/api/health");
  ASSERT_EQ(status_of(health), 200);
  EXPECT_EQ(body_of(health)["status"], "ok");
  EXPECT_EQ(body_of(health)["model"], "toy");
  EXPECT_EQ(body_of(health)["family"], "flux1");

  const auto page = client.Get("/");
  ASSERT_EQ(status_of(page), 200);
  EXPECT_NE(page->body.find("id=\"generate\""), std::string::npos);
  EXPECT_EQ(page->get_header_value("Content-Type"), "text/html; charset=utf-8");
  const auto script = client.Get("/app.js"), style = client.Get("/style.css");
  ASSERT_EQ(status_of(script), 200);
  ASSERT_EQ(status_of(style), 200);
  EXPECT_EQ(script->get_header_value("Content-Type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(style->get_header_value("Content-Type"), "text/css; charset=utf-8");

  json job = toy_job();
  job["attention"] = true;
  const auto submitted = post_job(client, job);
  ASSERT_EQ(status_of(submitted), 202) << (submitted ? submitted->body : "");
  const std::string id = body_of(submitted)["id"];
  EXPECT_EQ(submitted->get_header_value("Location"), "/api/jobs/" + id);

  // Server-sent events until the job ends: progress never goes back.
  std::string stream;
  double last_progress = -1;
  bool monotonic = true;
  const auto events = client.Get(("/api/jobs/" + id + "/events").c_str(), [&](const char* data, size_t length) {
    stream.append(data, length);
    size_t end;
    while ((end = stream.find("\n\n")) != std::string::npos) {
      const std::string event = stream.substr(0, end);
      stream.erase(0, end + 2);
      const auto at = event.find("data: ");
      if (at == std::string::npos) continue;
      const json state = json::parse(event.substr(at + 6));
      monotonic = monotonic && state["progress"].get<double>() >= last_progress;
      last_progress = state["progress"];
    }
    return true;
  });
  ASSERT_EQ(status_of(events), 200);
  EXPECT_EQ(events->get_header_value("Content-Type"), "text/event-stream");
  EXPECT_TRUE(monotonic);
  EXPECT_DOUBLE_EQ(last_progress, 1.0);

  const json done = wait_for(client, id, {"done", "failed"});
  ASSERT_EQ(done["status"], "done") << done.dump();
  ASSERT_EQ(done["images"].size(), 9u);  // 3 modes x (reference + 2 targets)
  EXPECT_EQ(done["images"][0]["mode"], "none");
  EXPECT_EQ(done["images"][0]["role"], "reference");
  EXPECT_EQ(done["images"][4]["target"], "circle");
  EXPECT_TRUE(done["images"][4]["metrics"].contains("copy_iou"));
  EXPECT_TRUE(done["images"][4]["metrics"].contains("style_distance"));
  EXPECT_TRUE(done["metrics"]["full"].contains("copy_iou"));
  EXPECT_EQ(done["recipe"]["steps"], 4);

  // Images are PNGs carrying their recipe.
  const std::string url = done["images"][5]["url"];
  const auto png = client.Get(url.c_str());
  ASSERT_EQ(status_of(png), 200);
  EXPECT_EQ(png->get_header_value("Content-Type"), "image/png");
  const std::string file = test::scratch_dir() + "/image.png";
  std::ofstream(file, std::ios::binary) << png->body;
  const json recipe = json::parse(read_png_text(file).at("untwist"));
  EXPECT_EQ(recipe["prompt"], "triangle");
  EXPECT_EQ(recipe["seed"], 9);
  EXPECT_EQ(recipe["share"]["mode"], "full");
  EXPECT_EQ(recipe["share"]["s_hf"], json({0.25, 0.75}));
  EXPECT_EQ(read_image(file).size(1), 32);

  ASSERT_TRUE(done.contains("attention_url"));
  EXPECT_EQ(status_of(client.Get(done["attention_url"].get<std::string>().c_str())), 200);
  EXPECT_EQ(status_of(client.Get("/api/rope-bands.png")), 200);

  // History, newest first, paged.
  const auto second = post_job(client, toy_job(2));
  ASSERT_EQ(status_of(second), 202);
  const std::string second_id = body_of(second)["id"];
  wait_for(client, second_id, {"done"});
  const json first_page = body_of(client.Get("/api/jobs?limit=1"));
  EXPECT_EQ(first_page["total"], 2);
  ASSERT_EQ(first_page["jobs"].size(), 1u);
  EXPECT_EQ(first_page["jobs"][0]["id"], second_id);
  const json second_page = body_of(client.Get("/api/jobs?limit=1&offset=1"));
  EXPECT_EQ(second_page["jobs"][0]["id"], id);
  EXPECT_EQ(status_of(client.Get("/api/jobs?limit=0")), 400);
  EXPECT_EQ(status_of(client.Get("/api/jobs?offset=-3")), 400);
}

TEST(ServeApi, ErrorStatuses) {
  const std::string data = test::scratch_dir();
  ServerProcess server(data, {"--max-body", "65536"});
  httplib::Client client = server.client();

  // 400: bad fields, words the toy does not know, blocks it lacks, undecodable images.
  for (const std::string& body :
       {std::string("{"), std::string(R"({"targets": ["circle"]})"),
        std::string(R"({"reference": {"prompt": "red circle"}, "targets": ["circle"], "modes": ["sideways"]})"),
        std::string(R"({"reference": {"prompt": "red circle"}, "targets": ["circle"], "share": {"s_hf": [0, 99]}})"),
        std::string(R"({"reference": {"prompt": "red circle"}, "targets": ["a","b","c","d","e","f","g","h","i"]})"),
        std::string(R"({"reference": {"prompt": "a purple giraffe"}, "targets": ["circle"]})"),
        std::string(R"({"reference": {"prompt": "red circle"}, "targets": ["circle"], "share": {"blocks": "double:7"}})"),
        std::string(R"({"reference": {"prompt": ""}, "targets": ["circle"]})"),
        std::string(R"({"reference": {"image": "iVBORw0KGgoAAAAA"}, "targets": ["circle"]})")}) {
    const auto result = client.Post("/api/jobs", body, "application/json");
    EXPECT_EQ(status_of(result), 400) << body;
    EXPECT_TRUE(body_of(result).contains("error")) << body;
  }
  // 413 past --max-body, 415 for a body that is not JSON.
  const json big = {{"reference", {{"prompt", std::string(70000, 'a')}}}, {"targets", {"circle"}}};
  const auto too_big = post_job(client, big);
  EXPECT_EQ(status_of(too_big), 413);
  EXPECT_NE(body_of(too_big).value("error", "").find("limit"), std::string::npos);
  EXPECT_EQ(status_of(client.Post("/api/jobs", toy_job().dump(), "text/plain")), 415);
  // 404: unknown ids, ids of the wrong form, paths that are not routes.
  EXPECT_EQ(status_of(client.Get("/api/jobs/0123456789abcdef")), 404);
  EXPECT_EQ(status_of(client.Get("/api/jobs/..%2F..%2Fetc")), 404);
  EXPECT_EQ(status_of(client.Get("/api/jobs/0123456789abcdef/images/0")), 404);
  EXPECT_EQ(status_of(client.Get("/api/jobs/0123456789abcdef/events")), 404);
  EXPECT_EQ(status_of(client.Delete("/api/jobs/0123456789abcdef")), 404);
  const auto missing = client.Get("/api/nothing");
  EXPECT_EQ(status_of(missing), 404);
  EXPECT_TRUE(body_of(missing).contains("error"));
  // 403: a Host that is not this machine's loopback name (DNS rebinding).
  EXPECT_EQ(status_of(client.Get("/api/health", {{"Host", "evil.example:80"}})), 403);
  EXPECT_EQ(status_of(client.Get("/api/health", {{"Host", "127.0.0.1.evil.example"}})), 403);
  EXPECT_EQ(status_of(client.Get("/api/health", {{"Host", "localhost:8188"}})), 200);
  // 404 for an image index past the job's images; 409 cancelling a finished job.
  const auto submitted = post_job(client, toy_job(2));
  ASSERT_EQ(status_of(submitted), 202);
  const std::string id = body_of(submitted)["id"];
  wait_for(client, id, {"done"});
  EXPECT_EQ(status_of(client.Get(("/api/jobs/" + id + "/images/99").c_str())), 404);
  EXPECT_EQ(status_of(client.Get(("/api/jobs/" + id + "/attention.png").c_str())), 404);
  EXPECT_EQ(status_of(client.Delete(("/api/jobs/" + id).c_str())), 409);
}

// A random PNG of height x width: its bytes and their base64.
std::pair<std::string, std::string> random_png_upload(int64_t height, int64_t width) {
  const std::string file = test::scratch_dir() + "/reference.png";
  write_png(file, at::rand({3, height, width}));
  std::ifstream in(file, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  static const char* digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string base64;
  for (size_t i = 0; i < bytes.size(); i += 3) {
    uint32_t chunk = static_cast<uint8_t>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) chunk |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    if (i + 2 < bytes.size()) chunk |= static_cast<uint8_t>(bytes[i + 2]);
    for (size_t k = 0; k < 4; ++k) base64 += k <= bytes.size() - i ? digits[(chunk >> (18 - 6 * k)) & 63] : '=';
  }
  return {bytes, base64};
}

TEST(ServeApi, UploadedReferenceImage) {
  const std::string data = test::scratch_dir();
  ServerProcess server(data);
  httplib::Client client = server.client();
  const auto [bytes, base64] = random_png_upload(40, 48);
  const json job = {{"reference", {{"image", base64}}}, {"targets", {"circle"}}, {"modes", {"full"}}, {"steps", 2}};
  const auto submitted = post_job(client, job);
  ASSERT_EQ(status_of(submitted), 202) << (submitted ? submitted->body : "");
  const json done = wait_for(client, body_of(submitted)["id"], {"done", "failed"});
  ASSERT_EQ(done["status"], "done") << done.dump();
  EXPECT_EQ(done["request"]["reference"]["image_bytes"], bytes.size());
  EXPECT_EQ(done["request"]["reference"]["mode"], "noise");
  // Followed along its inversion (reference.mode "invert") the targets see
  // another reference row than the noised image's.
  json inverted_job = job;
  inverted_job["reference"]["mode"] = "invert";
  inverted_job["reference"]["solver"] = "euler";
  const json inverted = wait_for(client, body_of(post_job(client, inverted_job))["id"], {"done", "failed"});
  ASSERT_EQ(inverted["status"], "done") << inverted.dump();
  EXPECT_EQ(inverted["request"]["reference"]["mode"], "invert");
  EXPECT_EQ(inverted["request"]["reference"]["solver"], "euler");
  const auto target_of = [&](const json& record) {
    const std::string file = test::scratch_dir() + "/target.png";
    std::ofstream(file, std::ios::binary) << client.Get(record["images"][1]["url"].get<std::string>().c_str())->body;
    return read_image(file);
  };
  EXPECT_FALSE(at::equal(target_of(done), target_of(inverted)));
  // A PNG signature with garbage after it: the checked decoder's 400.
  const json broken = {{"reference", {{"image", base64.substr(0, 24)}}}, {"targets", {"circle"}}};
  EXPECT_EQ(status_of(post_job(client, broken)), 400);
}

TEST(ServeApi, CancelQueuedAndRunning) {
  const std::string data = test::scratch_dir();
  ServerProcess server(data);
  httplib::Client client = server.client();
  const std::string running = body_of(post_job(client, slow_job()))["id"];
  const std::string queued = body_of(post_job(client, slow_job()))["id"];
  wait_for(client, running, {"running"}, 60s);
  EXPECT_EQ(body_of(client.Get(("/api/jobs/" + queued).c_str()))["status"], "queued");

  // A client that hangs up on the event stream breaks nothing.
  httplib::Client impatient = server.client();
  const auto hung_up = impatient.Get(("/api/jobs/" + running + "/events").c_str(),
                                     [](const char*, size_t) { return false; });
  EXPECT_FALSE(hung_up);
  EXPECT_EQ(status_of(client.Get("/api/health")), 200);

  const auto cancel_queued = client.Delete(("/api/jobs/" + queued).c_str());
  EXPECT_EQ(status_of(cancel_queued), 200);
  EXPECT_EQ(body_of(client.Get(("/api/jobs/" + queued).c_str()))["status"], "cancelled");

  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(status_of(client.Delete(("/api/jobs/" + running).c_str())), 202);
  const json stopped = wait_for(client, running, {"cancelled", "done", "failed"}, 30s);
  EXPECT_EQ(stopped["status"], "cancelled");
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s) << "a running job stops at its next step";
  EXPECT_EQ(stopped["images"].size(), 0u);
  EXPECT_EQ(status_of(client.Get("/api/health")), 200);
}

TEST(ServeApi, HistorySurvivesRestartAndKill) {
  const std::string data = test::scratch_dir();
  std::string finished, interrupted;
  {
    ServerProcess server(data);
    httplib::Client client = server.client();
    finished = body_of(post_job(client, toy_job(2)))["id"];
    wait_for(client, finished, {"done"});
    EXPECT_EQ(server.stop(SIGTERM), 0) << "SIGTERM stops the server cleanly";
  }
  {
    ServerProcess server(data);
    httplib::Client client = server.client();
    const json job = body_of(client.Get(("/api/jobs/" + finished).c_str()));
    EXPECT_EQ(job["status"], "done");
    EXPECT_EQ(status_of(client.Get(job["images"][1]["url"].get<std::string>().c_str())), 200);
    interrupted = body_of(post_job(client, slow_job()))["id"];
    wait_for(client, interrupted, {"running"}, 60s);
    server.stop(SIGKILL);  // dies mid-job
  }
  ServerProcess server(data);
  EXPECT_NE(server.first_line().find("untwist serve"), std::string::npos);
  httplib::Client client = server.client();
  const json job = body_of(client.Get(("/api/jobs/" + interrupted).c_str()));
  EXPECT_EQ(job["status"], "failed");
  EXPECT_NE(job.value("error", "").find("stopped while this job was running"), std::string::npos) << job.dump();
  EXPECT_EQ(body_of(client.Get("/api/jobs"))["total"], 2);
  EXPECT_EQ(body_of(client.Get(("/api/jobs/" + finished).c_str()))["status"], "done");
}

TEST(ServeApi, TokenGuardsTheApi) {
  const std::string data = test::scratch_dir();
  ServerProcess server(data, {"--token", "s3cret"});
  httplib::Client client = server.client();
  EXPECT_EQ(status_of(client.Get("/api/health")), 401);
  EXPECT_EQ(status_of(client.Get("/api/health", {{"Authorization", "Bearer wrong"}})), 401);
  EXPECT_EQ(status_of(client.Get("/api/health", {{"Authorization", "Bearer s3cret"}})), 200);
  EXPECT_EQ(status_of(client.Get("/api/health?token=s3cret")), 200);
  EXPECT_EQ(status_of(client.Get("/")), 200) << "the page itself is public; it asks for the token";
}

TEST(ServeApi, OtherHostsNeedAToken) {
  const test::RunResult result = test::run_untwist({"serve", "--host", "0.0.0.0", "--port", "0", "--data",
                                                    test::scratch_dir()});
  EXPECT_EQ(result.status, 2) << result.output;
  EXPECT_NE(result.output.find("--token"), std::string::npos) << result.output;
}

TEST(ServeApi, BurstOfConcurrentSubmissions) {
  const std::string data = test::scratch_dir();
  ServerProcess server(data, {"--queue", "4"});
  constexpr int kClients = 50;
  std::atomic<int> accepted{0}, refused{0}, other{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      httplib::Client client = server.client();
      json job = toy_job(20);
      job["seed"] = i;
      const auto result = post_job(client, job);
      const int status = status_of(result);
      (status == 202 ? accepted : status == 429 ? refused : other)++;
      if (status != 202 && status != 429) {
        ADD_FAILURE() << "client " << i << ": " << (result ? std::to_string(status) : httplib::to_string(result.error()));
      }
    });
  }
  for (auto& thread : clients) thread.join();
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(accepted + refused, kClients);
  EXPECT_GE(accepted.load(), 1);
  EXPECT_GE(refused.load(), 1) << "a queue of 4 cannot take 50 jobs at once";
  httplib::Client client = server.client();
  EXPECT_EQ(status_of(client.Get("/api/health")), 200);
  const json history = body_of(client.Get("/api/jobs?limit=100"));
  EXPECT_EQ(history["total"], accepted.load());
  for (const json& job : history["jobs"]) {
    const std::string status = job["status"];
    if (status == "queued" || status == "running") client.Delete(("/api/jobs/" + job["id"].get<std::string>()).c_str());
  }
  EXPECT_EQ(server.stop(SIGTERM), 0);
}

// With component flags the server runs the style command's pipeline: the
// golden tiny FLUX.1 DiT and autoencoder, random T5 and CLIP of matching widths.
TEST(ServeApi, RealPipelineWithTheCopyingMeter) {
  std::vector<std::string> components = test::tiny_flux1_components(test::scratch_dir());
  components.erase(std::find(components.begin(), components.end(), "--dtype"), components.end());  // serve's default
  ServerProcess server(test::scratch_dir(), components);
  httplib::Client client = server.client();
  const json health = body_of(client.Get("/api/health"));
  EXPECT_EQ(health["family"], "flux1");
  EXPECT_EQ(health["attention"], false);
  const json job = {{"reference", {{"prompt", "a wooden bull"}}}, {"targets", {"a giraffe"}},
                    {"modes", {"none", "full"}}, {"steps", 2}, {"share", {{"blocks", "all"}}}};
  const auto submitted = post_job(client, job);
  ASSERT_EQ(status_of(submitted), 202) << (submitted ? submitted->body : "");
  const json done = wait_for(client, body_of(submitted)["id"], {"done", "failed"});
  ASSERT_EQ(done["status"], "done") << done.dump();
  ASSERT_EQ(done["images"].size(), 4u);
  EXPECT_TRUE(done["metrics"]["full"].contains("copy_meter")) << done["metrics"].dump();
  EXPECT_FALSE(done["metrics"]["none"].contains("copy_meter"));
  EXPECT_EQ(done["recipe"]["family"], "flux1");
  const auto png = client.Get(done["images"][3]["url"].get<std::string>().c_str());
  ASSERT_EQ(status_of(png), 200);
  const std::string file = test::scratch_dir() + "/image.png";
  std::ofstream(file, std::ios::binary) << png->body;
  EXPECT_EQ(read_image(file).sizes().vec(), (std::vector<int64_t>{3, 48, 32}));
  EXPECT_EQ(json::parse(read_png_text(file).at("untwist"))["prompt"], "a giraffe");

  const json inverted_job = {{"reference", {{"image", random_png_upload(60, 40).second}, {"mode", "invert"}}},
                             {"targets", {"a giraffe"}}, {"modes", {"untwisted"}}, {"steps", 2}};
  const json inverted = wait_for(client, body_of(post_job(client, inverted_job))["id"], {"done", "failed"});
  ASSERT_EQ(inverted["status"], "done") << inverted.dump();
  EXPECT_EQ(inverted["request"]["reference"]["solver"], "fireflow");
}

}  // namespace
}  // namespace untwist::serve
