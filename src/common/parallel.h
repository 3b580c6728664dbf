#pragma once
// Minimal data parallelism: pith's work splits into independent items (chunks,
// query blocks, training shards), so a fork-join loop is all it needs.
#include <cstddef>
#include <functional>

namespace pith {

// Threads to use: n > 0 as given, otherwise all hardware threads.
int resolve_threads(int n);

// Calls fn(i) for i in [0, n) on up to `threads` threads (items are handed out
// dynamically, one at a time). The first exception thrown by fn is rethrown here
// after all threads stop; remaining items are skipped.
void parallel_for(size_t n, int threads, const std::function<void(size_t)>& fn);

}  // namespace pith
