// Step progress with elapsed time and ETA on a terminal; silent in pipes.
#pragma once
#include <chrono>
#include <string>

namespace untwist {

class Progress {
 public:
  Progress(std::string label, int total);
  ~Progress();
  void step();  // one more step done

 private:
  std::string label_;
  int total_;
  int done_ = 0;
  bool enabled_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace untwist
