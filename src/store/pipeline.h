#pragma once
// The streaming loop of compress / decompress / verify: work(i) runs on `threads`
// worker threads, consume(i, result) runs on the calling thread strictly in order
// of i (the file is written in order), and at most `window` results wait while
// one is consumed, so memory stays bounded by (window + 1) x (one item's result)
// whatever n is.
#include <condition_variable>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "common/parallel.h"

namespace pith {

template <typename T, typename Work, typename Consume>
void ordered_pipeline(size_t n, int threads, size_t window, Work work, Consume consume) {
  const size_t nthreads = std::min<size_t>(static_cast<size_t>(resolve_threads(threads)), std::max<size_t>(n, 1));
  if (nthreads == 1) {  // one thread: no worker to start and no hand-over per item
    for (size_t i = 0; i < n; ++i) {
      T r = work(i);
      consume(i, r);
    }
    return;
  }
  window = std::max(window, nthreads);
  std::vector<std::optional<T>> slots(window);
  std::mutex mu;
  std::condition_variable ready, space;
  size_t next = 0, consumed = 0;
  // Wake-ups are kept to those that unblock someone: on 2 cores every needless one
  // preempted a worker (a third of the 2-thread speed-up was lost to them).
  size_t idle_workers = 0;
  bool stop = false;
  std::exception_ptr err;
  auto abort_with = [&](std::exception_ptr e) {
    std::lock_guard<std::mutex> lk(mu);
    if (!err) err = e;
    stop = true;
    ready.notify_all();
    space.notify_all();
  };
  auto worker = [&] {
    while (true) {
      size_t i;
      {
        std::unique_lock<std::mutex> lk(mu);
        ++idle_workers;
        space.wait(lk, [&] { return stop || next >= n || next < consumed + window; });
        --idle_workers;
        if (stop || next >= n) return;
        i = next++;
      }
      try {
        T r = work(i);
        std::lock_guard<std::mutex> lk(mu);
        slots[i % window] = std::move(r);
        if (i == consumed) ready.notify_one();  // the consumer waits for no other item
      } catch (...) {
        abort_with(std::current_exception());
        return;
      }
    }
  };
  std::vector<std::thread> pool;
  for (size_t t = 0; t < nthreads; ++t) pool.emplace_back(worker);
  try {
    for (size_t i = 0; i < n; ++i) {
      T r;
      bool wake;
      {
        std::unique_lock<std::mutex> lk(mu);
        ready.wait(lk, [&] { return stop || slots[i % window].has_value(); });
        if (!slots[i % window]) break;  // a worker failed
        r = std::move(*slots[i % window]);
        slots[i % window].reset();
        consumed = i + 1;
        wake = idle_workers > 0;
      }
      if (wake) space.notify_one();
      consume(i, r);
    }
  } catch (...) {
    abort_with(std::current_exception());
  }
  for (auto& t : pool) t.join();
  if (err) std::rethrow_exception(err);
}

}  // namespace pith
