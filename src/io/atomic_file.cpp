#include "io/atomic_file.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <vector>

#include "util/errors.h"

namespace untwist {

namespace {

std::string folder_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Temporary files being written, for the signal handler: fixed slots, since a
// handler may neither allocate nor lock. A slot is free, being filled, or ready.
enum SlotState : int { kFree, kFilling, kReady };
constexpr size_t kSlots = 64, kPathBytes = 4096;
std::array<std::atomic<int>, kSlots> slot_state{};
std::array<std::array<char, kPathBytes>, kSlots> slot_path{};

int claim_slot(const std::string& temp_path) {
  if (temp_path.size() >= kPathBytes) return -1;
  for (size_t i = 0; i < kSlots; ++i) {
    int expected = kFree;
    if (!slot_state[i].compare_exchange_strong(expected, kFilling)) continue;
    std::memcpy(slot_path[i].data(), temp_path.c_str(), temp_path.size() + 1);
    slot_state[i].store(kReady);
    return static_cast<int>(i);
  }
  return -1;  // no slot: the file is still removed on any ordinary exit
}

void release_slot(int slot) {
  if (slot >= 0) slot_state[static_cast<size_t>(slot)].store(kFree);
}

void remove_temporary_files_and_end(int signal_number) {
  for (size_t i = 0; i < kSlots; ++i) {
    if (slot_state[i].load() == kReady) unlink(slot_path[i].data());
  }
  ::signal(signal_number, SIG_DFL);
  ::raise(signal_number);
}

}  // namespace

void remove_temporary_files_on_interrupt() {
  for (int signal_number : {SIGINT, SIGTERM, SIGHUP}) ::signal(signal_number, remove_temporary_files_and_end);
}

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  struct stat folder_info {};
  const std::string folder = folder_of(path_);
  if (stat(folder.c_str(), &folder_info) != 0 || !S_ISDIR(folder_info.st_mode)) {
    fail_file(path_, "cannot write: folder '" + folder + "' does not exist");
  }
  std::string pattern = path_ + ".tmp-XXXXXX";
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  fd_ = mkstemp(buffer.data());
  if (fd_ < 0) fail_file(path_, std::string("cannot create a temporary file: ") + std::strerror(errno));
  temp_path_ = buffer.data();
  slot_ = claim_slot(temp_path_);
  fchmod(fd_, 0644);
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) close(fd_);
  if (!committed_ && !temp_path_.empty()) unlink(temp_path_.c_str());
  release_slot(slot_);
}

void AtomicFile::write(const void* data, size_t size) {
  const char* bytes = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t written = ::write(fd_, bytes, size);
    if (written < 0) {
      if (errno == EINTR) continue;
      fail_file(path_, std::string("write failed: ") + std::strerror(errno));
    }
    bytes += written;
    size -= static_cast<size_t>(written);
  }
}

void AtomicFile::commit() {
  if (fsync(fd_) != 0) fail_file(path_, std::string("flush failed: ") + std::strerror(errno));
  close(fd_);
  fd_ = -1;
  if (rename(temp_path_.c_str(), path_.c_str()) != 0) {
    fail_file(path_, std::string("cannot rename the temporary file into place: ") + std::strerror(errno));
  }
  committed_ = true;
  release_slot(slot_);
  slot_ = -1;
}

void write_file_atomically(const std::string& path, const std::string& bytes) {
  AtomicFile file(path);
  file.write(bytes.data(), bytes.size());
  file.commit();
}

}  // namespace untwist

namespace untwist {

void refuse_overwriting_inputs(const std::string& output, const std::vector<std::string>& inputs) {
  struct stat out_info {};
  if (stat(output.c_str(), &out_info) != 0) return;  // a new file cannot be an input
  for (const auto& input : inputs) {
    struct stat in_info {};
    if (stat(input.c_str(), &in_info) == 0 && in_info.st_dev == out_info.st_dev && in_info.st_ino == out_info.st_ino) {
      throw UsageError("output '" + output + "' is the input '" + input + "'; untwist never overwrites its inputs");
    }
  }
}

}  // namespace untwist
