#include "entropy/adaptive.h"

#include <vector>

#include "common/error.h"
#include "entropy/varint.h"

namespace pith::adaptive {

namespace {

// LZMA's range coder: 11-bit probabilities; a shift of 4 adapts fast, which is
// what streams of a few hundred symbols need.
constexpr int kProbBits = 11, kMoveBits = 4;
constexpr uint32_t kTop = 1u << 24;

struct Encoder {
  std::vector<uint8_t> out;
  uint64_t low = 0;
  uint32_t range = 0xFFFFFFFFu;
  uint8_t cache = 0;
  uint64_t cache_size = 1;

  void shift_low() {
    if (static_cast<uint32_t>(low) < 0xFF000000u || (low >> 32) != 0) {
      const uint8_t carry = static_cast<uint8_t>(low >> 32);
      uint8_t b = cache;
      do {
        out.push_back(static_cast<uint8_t>(b + carry));
        b = 0xFF;
      } while (--cache_size != 0);
      cache = static_cast<uint8_t>(low >> 24);
    }
    ++cache_size;
    low = (low & 0x00FFFFFFu) << 8;
  }
  void bit(uint16_t& p, int b) {
    const uint32_t bound = (range >> kProbBits) * p;
    if (!b) {
      range = bound;
      p = static_cast<uint16_t>(p + (((1u << kProbBits) - p) >> kMoveBits));
    } else {
      low += bound;
      range -= bound;
      p = static_cast<uint16_t>(p - (p >> kMoveBits));
    }
    while (range < kTop) {
      range <<= 8;
      shift_low();
    }
  }
  void flush() {
    for (int i = 0; i < 5; ++i) shift_low();
  }
};

struct Decoder {
  std::span<const uint8_t> in;
  size_t pos = 0;
  uint32_t range = 0xFFFFFFFFu, code = 0;

  // Past the end reads yield 0; decode() then sees pos > size and rejects the stream.
  uint8_t next() { return pos < in.size() ? in[pos++] : (++pos, 0); }
  int bit(uint16_t& p) {
    const uint32_t bound = (range >> kProbBits) * p;
    int b;
    if (code < bound) {
      range = bound;
      p = static_cast<uint16_t>(p + (((1u << kProbBits) - p) >> kMoveBits));
      b = 0;
    } else {
      code -= bound;
      range -= bound;
      p = static_cast<uint16_t>(p - (p >> kMoveBits));
      b = 1;
    }
    while (range < kTop) {
      range <<= 8;
      code = code << 8 | next();
    }
    return b;
  }
};

}  // namespace

void encode(std::span<const uint8_t> syms, ByteWriter& w) {
  uint16_t tree[256];
  for (auto& p : tree) p = 1u << (kProbBits - 1);
  Encoder e;
  e.out.reserve(syms.size() + 16);
  for (uint8_t s : syms) {
    unsigned node = 1;
    for (int k = 7; k >= 0; --k) {
      int b = (s >> k) & 1;
      e.bit(tree[node], b);
      node = node << 1 | b;
    }
  }
  e.flush();
  // The first byte of this range coder is always 0 (nothing can carry into it)
  // and the decoder's 32-bit code shifts it out anyway: it is not stored.
  put_varint(w, e.out.size() - 1);
  w.bytes(e.out.data() + 1, e.out.size() - 1);
}

void decode(ByteReader& r, std::span<uint8_t> out) {
  const uint64_t len = get_varint(r, "adaptive stream length");
  if (len > r.remaining()) fail(r.what(), "corrupt: adaptive stream claims {} bytes, {} left", len, r.remaining());
  Decoder d{r.take(len, "adaptive stream")};
  for (int i = 0; i < 4; ++i) d.code = d.code << 8 | d.next();
  uint16_t tree[256];
  for (auto& p : tree) p = 1u << (kProbBits - 1);
  for (uint8_t& s : out) {
    unsigned node = 1;
    for (int k = 0; k < 8; ++k) node = node << 1 | d.bit(tree[node]);
    s = static_cast<uint8_t>(node);
  }
  if (d.pos != len || d.code != 0)
    fail(r.what(), "corrupt: adaptive stream does not end after {} symbols", out.size());
}

}  // namespace pith::adaptive
