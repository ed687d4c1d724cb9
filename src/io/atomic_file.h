// Writes a file so that readers only ever see the old file or the complete new
// one: the bytes go to a temporary file in the target folder, which is renamed
// over the target on commit() and removed if the writer is destroyed first.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace untwist {

class AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t size);
  void commit();

  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return temp_path_; }

 private:
  std::string path_;
  std::string temp_path_;
  int fd_ = -1;
  int slot_ = -1;  // in the interrupt handler's list of temporary files
  bool committed_ = false;
};

// Makes SIGINT, SIGTERM and SIGHUP remove the temporary files of writes in
// progress before the process ends as the signal asks. Call once, early.
void remove_temporary_files_on_interrupt();

// Writes a whole file atomically.
void write_file_atomically(const std::string& path, const std::string& bytes);

}  // namespace untwist

namespace untwist {

// Throws UsageError when `output` names the same file as one of `inputs`.
void refuse_overwriting_inputs(const std::string& output, const std::vector<std::string>& inputs);

}  // namespace untwist
