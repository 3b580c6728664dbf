#pragma once
// Top-k selection over streamed distances: a max-heap of the k best candidates
// whose top is the running threshold. A SIMD filter drops the common case (a
// distance worse than the k-th best) without touching the heap.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "quantize/codec.h"
#include "search/select_kernels.h"

namespace pith {

// A candidate: estimated distance (smaller = nearer) and storage position. Ties
// on distance go to the lower position, so any split of the scan (threads,
// segments) selects the same set.
struct Candidate {
  float dist;
  uint64_t pos;
  friend bool operator<(const Candidate& a, const Candidate& b) {
    return a.dist < b.dist || (a.dist == b.dist && a.pos < b.pos);
  }
};

class TopK final : public ScanSink {
 public:
  explicit TopK(size_t k) : k_(k) { heap_.reserve(k); }

  float threshold() const override {
    return heap_.size() < k_ ? std::numeric_limits<float>::infinity() : heap_.front().dist;
  }
  void push(float dist, uint64_t pos) override { push({dist, pos}); }

  // Distances of vectors pos0, pos0 + 1, ...; NaN distances are never selected.
  void add(const float* dist, size_t n, uint64_t pos0) {
    static const FilterLeFn filter = filter_le_kernel();
    // The threshold is refreshed once per chunk; a stale one only lets a few
    // more candidates reach push(), which re-checks them.
    constexpr size_t kChunk = 256;
    uint32_t idx[kChunk];
    for (size_t i0 = 0; i0 < n; i0 += kChunk) {
      size_t m = std::min(kChunk, n - i0);
      size_t c = filter(dist + i0, m, threshold(), idx);
      for (size_t j = 0; j < c; ++j) push({dist[i0 + idx[j]], pos0 + i0 + idx[j]});
    }
  }

  void push(Candidate c) {
    if (heap_.size() < k_) {
      heap_.push_back(c);
      std::push_heap(heap_.begin(), heap_.end());
    } else if (k_ > 0 && c < heap_.front()) {
      // c replaces the worst (the top) and sinks to its place: one pass down the
      // heap instead of pop_heap + push_heap.
      size_t i = 0, n = heap_.size();
      for (size_t ch; (ch = 2 * i + 1) < n; i = ch) {
        if (ch + 1 < n && heap_[ch] < heap_[ch + 1]) ++ch;
        if (!(c < heap_[ch])) break;
        heap_[i] = heap_[ch];
      }
      heap_[i] = c;
    }
  }

  // The selected candidates, best first; the selection is left empty.
  std::vector<Candidate> take_sorted() {
    std::sort_heap(heap_.begin(), heap_.end());
    return std::move(heap_);
  }

 private:
  size_t k_;
  std::vector<Candidate> heap_;
};

}  // namespace pith
