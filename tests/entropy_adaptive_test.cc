#include <gtest/gtest.h>

#include <random>

#include "common/error.h"
#include "entropy/adaptive.h"

namespace pith::adaptive {
namespace {

std::vector<uint8_t> symbols(size_t n, int alphabet, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::geometric_distribution<int> geo(0.3);
  std::vector<uint8_t> v(n);
  for (auto& s : v) s = static_cast<uint8_t>(alphabet == 256 ? rng() : 100 + geo(rng) % alphabet);
  return v;
}

TEST(Adaptive, RoundTripEndsExactly) {
  // The decoder requires the coded bytes to end exactly with the last symbol;
  // many lengths and alphabets check that valid streams always do.
  for (size_t n = 0; n < 600; n += 7)
    for (int alphabet : {1, 2, 12, 256}) {
      auto syms = symbols(n, alphabet, n * 1000 + alphabet);
      ByteWriter w;
      encode(syms, w);
      ByteReader r(w.buf(), "s");
      std::vector<uint8_t> out(n);
      decode(r, out);
      EXPECT_TRUE(r.done());
      ASSERT_EQ(out, syms) << n << " " << alphabet;
      if (alphabet == 12 && n >= 300) {
        EXPECT_LT(w.size(), n / 2) << n;
      }
    }
}

TEST(Adaptive, CorruptionThrowsOrDecodes) {
  std::mt19937_64 rng(5);
  auto syms = symbols(2000, 12, 1);
  ByteWriter w;
  encode(syms, w);
  int thrown = 0;
  for (int iter = 0; iter < 500; ++iter) {
    auto bad = w.buf();
    if (iter % 2) bad.resize(rng() % bad.size());
    else bad[rng() % bad.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
    std::vector<uint8_t> out(syms.size());
    ByteReader r(bad, "s");
    try {
      decode(r, out);
    } catch (const Error&) {
      ++thrown;
    }
  }
  EXPECT_GT(thrown, 400);  // the end check catches nearly every corruption
}

TEST(Adaptive, WrongCountThrows) {
  auto syms = symbols(1000, 12, 2);
  ByteWriter w;
  encode(syms, w);
  for (size_t n : {990, 1010}) {
    ByteReader r(w.buf(), "s");
    std::vector<uint8_t> out(n);
    EXPECT_THROW(decode(r, out), Error) << n;
  }
}

}  // namespace
}  // namespace pith::adaptive
