#include "test_support.h"

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>

#include "io/safetensors.h"

namespace untwist::test {

namespace fs = std::filesystem;

std::string golden_dir() {
  if (const char* dir = std::getenv("UNTWIST_GOLDEN_DIR")) return dir;
  return (fs::path(UNTWIST_SOURCE_DIR) / ".." / "shared" / "golden").lexically_normal().string();
}

std::string test_device() {
  const char* device = std::getenv("UNTWIST_TEST_DEVICE");
  return device ? device : "cpu";
}

std::vector<std::string> golden_files_of_kind(const std::string& kind) {
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(golden_dir())) {
    if (entry.path().extension() != ".safetensors") continue;
    const auto file = SafetensorsFile::open(entry.path().string());
    const auto it = file->metadata().find("kind");
    if (it != file->metadata().end() && it->second == kind) files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

double relative_error(const at::Tensor& actual, const at::Tensor& expected) {
  const at::Tensor a = actual.to(at::kDouble), e = expected.to(at::kDouble);
  if (a.sizes() != e.sizes()) return std::numeric_limits<double>::infinity();
  const double norm = e.norm().item<double>();
  const double diff = (a - e).norm().item<double>();
  return norm == 0 ? diff : diff / norm;
}

std::string scratch_dir() {
  static std::mt19937_64 random{std::random_device{}()};
  const fs::path dir = fs::temp_directory_path() / ("untwist-test-" + std::to_string(random()));
  fs::create_directories(dir);
  static std::vector<fs::path> to_remove;
  static const bool registered = [] {
    std::atexit([] {
      for (const auto& path : to_remove) fs::remove_all(path);
    });
    return true;
  }();
  (void)registered;
  to_remove.push_back(dir);
  return dir.string();
}

RunResult run_untwist(const std::vector<std::string>& args) { return run_program(UNTWIST_BINARY, args); }

RunResult run_program(const std::string& program, const std::vector<std::string>& args, const std::string& working_dir) {
  const auto quote = [](const std::string& text) {
    std::string quoted;
    for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return "'" + quoted + "'";
  };
  std::string command = working_dir.empty() ? "" : "cd " + quote(working_dir) + " && ";
  command += quote(program);
  for (const auto& arg : args) command += " " + quote(arg);
  command += " 2>&1";
  RunResult result;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return result;
  std::array<char, 4096> buffer{};
  size_t read = 0;
  while ((read = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.output.append(buffer.data(), read);
  const int status = pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

}  // namespace untwist::test

namespace untwist::test {

DitInputs golden_dit_inputs(const SafetensorsFile& golden) {
  const auto optional = [&](const std::string& name) { return golden.contains(name) ? golden.tensor(name) : at::Tensor(); };
  DitInputs in;
  in.img = golden.tensor("in.img");
  in.img_ids = golden.tensor("in.img_ids");
  in.txt = golden.tensor("in.txt");
  in.txt_ids = golden.tensor("in.txt_ids");
  in.y = optional("in.y");
  in.timesteps = optional("in.timesteps");
  in.guidance = optional("in.guidance");
  in.cond = optional("in.img_cond_seq");
  in.cond_ids = optional("in.img_cond_seq_ids");
  return in;
}

}  // namespace untwist::test
