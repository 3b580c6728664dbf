#pragma once
// A progress bar on stderr, drawn only when stderr is a terminal, not quiet,
// and the work has already taken more than a second.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace pith {

class Progress {
 public:
  Progress(std::string label, uint64_t total, bool enabled = true);
  ~Progress();
  void add(uint64_t n);  // thread-safe
  void finish();

 private:
  void draw(bool final);
  std::string label_;
  uint64_t total_;
  std::atomic<uint64_t> done_{0};
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_, last_;
  std::mutex mu_;
};

// Global switch set by the CLI's -q.
void set_quiet(bool q);
bool quiet();

}  // namespace pith
