#pragma once
// Top-k selection over streamed distances: a max-heap of the k best candidates
// whose top is the running threshold, so the common case (a distance worse than
// the k-th best) costs one comparison.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

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

class TopK {
 public:
  explicit TopK(size_t k) : k_(k) { heap_.reserve(k); }

  // Distances of vectors pos0, pos0 + 1, ...; NaN distances are never selected.
  void add(const float* dist, size_t n, uint64_t pos0) {
    float thr = threshold();
    for (size_t i = 0; i < n; ++i) {
      if (dist[i] <= thr) {
        push({dist[i], pos0 + i});
        thr = threshold();
      }
    }
  }

  void push(Candidate c) {
    if (heap_.size() < k_) {
      heap_.push_back(c);
      std::push_heap(heap_.begin(), heap_.end());
    } else if (k_ > 0 && c < heap_.front()) {
      std::pop_heap(heap_.begin(), heap_.end());
      heap_.back() = c;
      std::push_heap(heap_.begin(), heap_.end());
    }
  }

  // The selected candidates, best first; the selection is left empty.
  std::vector<Candidate> take_sorted() {
    std::sort_heap(heap_.begin(), heap_.end());
    return std::move(heap_);
  }

 private:
  float threshold() const {
    return heap_.size() < k_ ? std::numeric_limits<float>::infinity() : heap_.front().dist;
  }
  size_t k_;
  std::vector<Candidate> heap_;
};

}  // namespace pith
