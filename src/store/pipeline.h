#pragma once
// The streaming loop of compress / decompress / verify: work(i) runs on `threads`
// threads, the caller's among them, and consume(i, result) runs strictly in order
// of i (the file is written in order), one call at a time, on whichever of those
// threads finds the next result ready. At most `window` results wait while one
// is consumed, so memory stays bounded by (window + 1) x (one item's result)
// whatever n is.
//
// No thread only consumes: on 2 cores a separate consumer thread (it hashes and
// writes every byte) took turns with the two workers, and each switch cost both
// the time slice and the caches; compressing a 10.8 MB model with 2 threads then
// gained 1.44x over 1 thread in the loop itself.
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
  if (nthreads == 1) {  // one thread: no hand-over per item
    for (size_t i = 0; i < n; ++i) {
      T r = work(i);
      consume(i, r);
    }
    return;
  }
  window = std::max(window, nthreads);
  std::vector<std::optional<T>> slots(window);
  std::mutex mu;
  std::condition_variable cv;
  size_t next = 0, consumed = 0, waiting = 0;
  bool consuming = false, stop = false;
  std::exception_ptr err;

  // Each thread: consume the results that are ready in order (unless another
  // thread is at it), else start the next item if the window allows, else wait.
  // A thread that stores the result the consumer waits for consumes it itself,
  // so the only wake-ups are for a freed window slot, an error, and the end.
  auto run = [&] {
    std::unique_lock<std::mutex> lk(mu);
    auto fail_with = [&](std::exception_ptr e) {
      if (!err) err = e;
      stop = true;
      cv.notify_all();
    };
    while (!stop && consumed < n) {
      if (!consuming && slots[consumed % window]) {
        consuming = true;
        while (!stop && consumed < n && slots[consumed % window]) {
          const size_t i = consumed++;
          {
            T r = std::move(*slots[i % window]);
            slots[i % window].reset();
            if (waiting) cv.notify_all();  // a slot is free: a waiting thread can start an item
            lk.unlock();
            try {
              consume(i, r);
            } catch (...) {
              lk.lock();
              fail_with(std::current_exception());
              break;
            }
          }
          lk.lock();
        }
        consuming = false;
        if (consumed == n) cv.notify_all();
      } else if (next < n && next < consumed + window) {
        const size_t i = next++;
        lk.unlock();
        std::optional<T> r;
        std::exception_ptr e;
        try {
          r.emplace(work(i));
        } catch (...) {
          e = std::current_exception();
        }
        lk.lock();
        if (e) fail_with(e);
        else slots[i % window] = std::move(r);
      } else {
        ++waiting;
        cv.wait(lk);
        --waiting;
      }
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(nthreads - 1);
  for (size_t t = 1; t < nthreads; ++t) pool.emplace_back(run);
  run();
  for (auto& t : pool) t.join();
  if (err) std::rethrow_exception(err);
}

}  // namespace pith
