#include "common/progress.h"

#include <unistd.h>

#include <cstdio>

namespace pith {

namespace {
std::atomic<bool> g_quiet{false};
}

void set_quiet(bool q) { g_quiet = q; }
bool quiet() { return g_quiet; }

Progress::Progress(std::string label, uint64_t total, bool enabled)
    : label_(std::move(label)), total_(total), enabled_(enabled && !quiet() && ::isatty(2)) {
  start_ = last_ = std::chrono::steady_clock::now();
}

Progress::~Progress() { finish(); }

void Progress::add(uint64_t n) {
  done_ += n;
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  std::unique_lock<std::mutex> lk(mu_, std::try_to_lock);
  if (!lk.owns_lock()) return;
  if (now - start_ < std::chrono::seconds(1) || now - last_ < std::chrono::milliseconds(100)) return;
  last_ = now;
  draw(false);
}

void Progress::draw(bool final) {
  double frac = total_ ? static_cast<double>(done_.load()) / static_cast<double>(total_) : 1.0;
  if (frac > 1) frac = 1;
  const int width = 30;
  int fill = static_cast<int>(frac * width);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::string bar(static_cast<size_t>(fill), '#');
  bar.resize(width, '.');
  std::fprintf(stderr, "\r%s [%s] %5.1f%% %6.1fs%s", label_.c_str(), bar.c_str(), frac * 100, secs, final ? "\n" : "");
  std::fflush(stderr);
  drawn_ = true;
}

void Progress::finish() {
  if (!enabled_ || !drawn_) return;
  std::lock_guard<std::mutex> lk(mu_);
  if (!drawn_) return;
  done_ = total_;
  draw(true);
  drawn_ = false;
  enabled_ = false;
}

}  // namespace pith
