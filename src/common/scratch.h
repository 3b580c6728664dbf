#pragma once
// A buffer reused from call to call (chunk to chunk) whose contents are rewritten
// before each use: it grows without zeroing or copying the old contents, and by
// half again at least, so chunks of alternating sizes settle on one allocation.
// (A std::vector grown by resize() zeroed and copied every time: 80% of the page
// faults of compressing a 5 MB checkpoint.)
#include <algorithm>
#include <cstddef>
#include <memory>

namespace pith {

template <typename T>
class Scratch {
 public:
  T* get(size_t n) {
    if (n > cap_) {
      cap_ = std::max(n, cap_ + cap_ / 2);
      buf_ = std::make_unique_for_overwrite<T[]>(cap_);
    }
    return buf_.get();
  }
  T* data() const { return buf_.get(); }
  // Drops the buffer when it is larger than `keep` elements (after an outsized chunk).
  void trim(size_t keep) {
    if (cap_ > keep) {
      buf_.reset();
      cap_ = 0;
    }
  }

 private:
  std::unique_ptr<T[]> buf_;
  size_t cap_ = 0;
};

}  // namespace pith
