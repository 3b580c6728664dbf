#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

#include "store/pipeline.h"

using namespace pith;

namespace {

// Runs a pipeline whose items take uneven times and checks what the callers of
// ordered_pipeline rely on: every item consumed once, in order, by one call at a
// time, with no more than `window` results waiting plus the one being consumed.
void check_order(size_t n, int threads, size_t window) {
  std::vector<int> delay(n);
  std::mt19937 rng(static_cast<unsigned>(n * 31 + threads));
  for (auto& d : delay) d = static_cast<int>(rng() % 200);
  std::atomic<int> alive{0}, most{0}, consuming{0};
  std::vector<size_t> order;
  ordered_pipeline<size_t>(
      n, threads, window,
      [&](size_t i) {
        std::this_thread::sleep_for(std::chrono::microseconds(delay[i]));
        int a = ++alive;
        for (int m = most.load(); a > m && !most.compare_exchange_weak(m, a);) {
        }
        return i;
      },
      [&](size_t i, size_t& r) {
        // Any thread may consume, but one call at a time.
        EXPECT_EQ(consuming.fetch_add(1), 0);
        std::this_thread::sleep_for(std::chrono::microseconds(delay[i] / 4));
        consuming.fetch_sub(1);
        EXPECT_EQ(i, r);
        order.push_back(r);
        --alive;
      });
  ASSERT_EQ(order.size(), n);
  for (size_t i = 0; i < n; ++i) EXPECT_EQ(order[i], i);
  EXPECT_LE(static_cast<size_t>(most.load()), std::max<size_t>(window, static_cast<size_t>(threads)) + 1);
}

}  // namespace

TEST(OrderedPipeline, ConsumesEveryItemInOrderWithinTheWindow) {
  for (int threads : {1, 2, 3, 8})
    for (size_t window : {1, 2, 8})
      for (size_t n : {0, 1, 7, 200}) check_order(n, threads, window);
}

TEST(OrderedPipeline, AWorkerErrorStopsEverythingAndIsRethrown) {
  for (int threads : {1, 2, 4}) {
    std::atomic<size_t> consumed{0};
    EXPECT_THROW(ordered_pipeline<int>(
                     1000, threads, 8,
                     [&](size_t i) {
                       if (i == 37) throw std::runtime_error("bad chunk");
                       return 0;
                     },
                     [&](size_t, int&) { ++consumed; }),
                 std::runtime_error);
    EXPECT_LE(consumed.load(), 37u);
  }
}

TEST(OrderedPipeline, AConsumerErrorIsRethrown) {
  EXPECT_THROW(ordered_pipeline<int>(
                   100, 2, 4, [](size_t) { return 0; },
                   [](size_t i, int&) {
                     if (i == 5) throw std::runtime_error("disk full");
                   }),
               std::runtime_error);
}
