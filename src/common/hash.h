#pragma once
// xxHash64 (seed 0) is the checksum of every chunk and file in .pith.
#include <cstdint>
#include <span>

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace pith {

inline uint64_t xxh64(const void* p, size_t n) { return XXH64(p, n, 0); }
inline uint64_t xxh64(std::span<const uint8_t> b) { return XXH64(b.data(), b.size(), 0); }

// Incremental hash for data that arrives in pieces (streaming compress/decompress).
class Xxh64Stream {
 public:
  Xxh64Stream() { XXH64_reset(&st_, 0); }
  void update(const void* p, size_t n) { XXH64_update(&st_, p, n); }
  void update(std::span<const uint8_t> b) { update(b.data(), b.size()); }
  uint64_t digest() const { return XXH64_digest(&st_); }

 private:
  XXH64_state_t st_;
};

}  // namespace pith
