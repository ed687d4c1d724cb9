// `untwist serve`: the local web app and JSON API. With no model flags it
// serves the shipped toy model; with the style command's component flags, a
// real checkpoint. Prints the URL it listens on, serves until SIGINT/SIGTERM.
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <thread>

#include "commands.h"
#include "pipeline_options.h"
#include "serve/api_server.h"
#include "serve/pipeline_engine.h"
#include "serve/toy_engine.h"
#include "toy_paths.h"
#include "util/errors.h"

namespace untwist {

namespace {

struct ServeOptions {
  serve::ServerOptions server;
  std::string toy_model;
  PipelineFlags pipeline;
};

// SIGINT and SIGTERM write a byte here; a thread waiting on the other end
// stops the server, which lets the running job end as failed and closes the
// database cleanly.
int stop_pipe[2] = {-1, -1};

void request_stop(int) {
  const char byte = 1;
  const ssize_t written = write(stop_pipe[1], &byte, 1);
  (void)written;
}

// $XDG_DATA_HOME/untwist, else ~/.local/share/untwist.
std::string default_data_dir() {
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && *xdg) return std::string(xdg) + "/untwist";
  const char* home = std::getenv("HOME");
  if (!home || !*home) throw UsageError("--data: no HOME to put ~/.local/share/untwist in; give a folder");
  return std::string(home) + "/.local/share/untwist";
}

std::unique_ptr<serve::Engine> load_engine(const ServeOptions& options) {
  const ComponentPaths& paths = options.pipeline.paths;
  if (paths.model.empty() && paths.model_dir.empty()) {
    return std::make_unique<serve::ToyEngine>(find_toy_model(options.toy_model));
  }
  auto pipeline = load_pipeline(paths, options.pipeline.load_settings());
  nlohmann::json recipe = options.pipeline.recipe(*pipeline);
  return std::make_unique<serve::PipelineEngine>(std::move(pipeline), options.pipeline.settings, recipe);
}

void run_serve(ServeOptions options) {
  if (options.server.data_dir.empty()) options.server.data_dir = default_data_dir();
  if (options.server.token.empty()) {
    if (const char* token = std::getenv("UNTWIST_TOKEN")) options.server.token = token;
  }
  serve::check_server_options(options.server);
  // A client that hangs up must not end the process with SIGPIPE.
  ::signal(SIGPIPE, SIG_IGN);
  const std::unique_ptr<serve::Engine> engine = load_engine(options);
  serve::ApiServer server(*engine, options.server);
  const int port = server.bind();
  const std::string host = options.server.host.find(':') != std::string::npos ? "[" + options.server.host + "]"
                                                                               : options.server.host;
  const nlohmann::json model = engine->describe();
  std::cout << "untwist serve: http://" << host << ":" << port << "/  (model " << model["model"].get<std::string>()
            << ", data in " << options.server.data_dir << ")" << std::endl;
  if (server.interrupted_jobs() > 0) {
    std::cout << "marked " << server.interrupted_jobs() << " job(s) the previous server left unfinished as failed"
              << std::endl;
  }
  if (pipe(stop_pipe) != 0) throw std::runtime_error("cannot create the stop signal's pipe");
  struct sigaction action = {};
  action.sa_handler = request_stop;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  std::thread stopper([&] {
    char byte = 0;
    while (read(stop_pipe[0], &byte, 1) < 0 && errno == EINTR) {
    }
    server.stop();
  });
  server.listen();
  request_stop(0);  // wakes the stopper when listen() ended on its own
  stopper.join();
  std::cout << "untwist serve: stopped" << std::endl;
}

}  // namespace

void add_serve_command(CLI::App& app) {
  auto options = std::make_shared<ServeOptions>();
  CLI::App* command = app.add_subcommand("serve", "Local web app and JSON API (the toy model unless model files are given)");
  serve::ServerOptions& server = options->server;
  command->add_option("--host", server.host, "address to listen on; other than loopback needs --token")
      ->capture_default_str();
  command->add_option("--port", server.port, "port (0: any free one)")->check(CLI::Range(0, 65535))
      ->capture_default_str();
  command->add_option("--data", server.data_dir, "job history and images (default: ~/.local/share/untwist)");
  command->add_option("--token", server.token, "require Authorization: Bearer TOKEN on the API (or UNTWIST_TOKEN)");
  command->add_option("--max-body", server.max_body, "largest request body in bytes")
      ->check(CLI::Range(size_t{1024}, size_t{1} << 30))->capture_default_str();
  command->add_option("--queue", server.queue_limit, "jobs that may wait behind the running one")
      ->check(CLI::Range(1, 10000))->capture_default_str();
  command->add_option("--max-targets", server.limits.max_targets, "target prompts per job")
      ->check(CLI::Range(1, 64))->capture_default_str();
  command->add_option("--toy-model", options->toy_model, "toy checkpoint (default: models/toy/toy.safetensors)")
      ->check(CLI::ExistingFile);
  options->pipeline.add_to(*command);
  for (const char* unused : {"--output", "--seed"}) command->remove_option(command->get_option(unused));
  command->callback([options] { run_serve(*options); });
}

}  // namespace untwist
