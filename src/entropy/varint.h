#pragma once
// LEB128 varints of the FLOAT_SPLIT streams (docs/FORMAT.md).
#include <cstdint>

#include "common/bytes.h"
#include "common/error.h"

namespace pith {

inline void put_varint(ByteWriter& w, uint64_t v) {
  for (; v >= 0x80; v >>= 7) w.u8(static_cast<uint8_t>(v | 0x80));
  w.u8(static_cast<uint8_t>(v));
}

inline uint64_t get_varint(ByteReader& r, const char* field) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    uint8_t b = r.u8(field);
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) return v;
  }
  fail(r.what(), "corrupt: {} is not a valid varint", field);
}

inline int varint_len(uint64_t v) {
  int n = 1;
  for (; v >= 0x80; v >>= 7) ++n;
  return n;
}

}  // namespace pith
