#include <gtest/gtest.h>

#include <random>

#include "common/error.h"
#include "entropy/rans.h"

namespace pith::rans {
namespace {

std::vector<uint8_t> encode(std::span<const uint8_t> syms, KeyMap keys) {
  ByteWriter w;
  encode_stream(syms, keys, w);
  return std::move(w.buf());
}

std::vector<uint8_t> decode(std::span<const uint8_t> enc, size_t n, KeyMap keys) {
  ByteReader r(enc, "stream");
  Scratch<uint8_t> buf;
  const uint8_t* p = decode_stream(r, n, keys, buf);
  EXPECT_TRUE(r.done());
  return {p, p + n};
}

const uint8_t* identity_keys() {
  static const auto k = [] {
    std::array<uint8_t, 256> a{};
    for (int i = 0; i < 256; ++i) a[i] = static_cast<uint8_t>(i);
    return a;
  }();
  return k.data();
}

// Exponent-like symbols: a random walk around 120 with geometric steps, so the
// previous symbol predicts the next one and contexts pay.
std::vector<uint8_t> skewed(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::geometric_distribution<int> geo(0.4);
  std::vector<uint8_t> v(n);
  int cur = 120;
  for (auto& s : v) {
    if (rng() % 4 == 0) cur = 110 + static_cast<int>(rng() % 20);
    s = static_cast<uint8_t>(cur - geo(rng));
  }
  return v;
}

TEST(Rans, RoundTripSizes) {
  for (size_t n : {0, 1, 2, 7, 8, 9, 100, 4095, 16383, 16384, 16385, 16391, 100003, 131072 + 31, 400000}) {
    auto syms = skewed(n, n);
    for (KeyMap keys : {KeyMap{nullptr}, identity_keys()}) {
      auto enc = encode(syms, keys);
      EXPECT_EQ(decode(enc, n, keys), syms) << n;
      if (n >= 4095) {
        EXPECT_LT(enc.size(), n * 3 / 4) << n;
      }
    }
  }
}

TEST(Rans, ContextsBeatOrder0OnCorrelatedSymbols) {
  auto syms = skewed(200000, 5);
  auto plain = encode(syms, nullptr), ctx = encode(syms, identity_keys());
  EXPECT_LT(ctx.size(), plain.size() * 0.97);
}

TEST(Rans, AllEqualIsConstant) {
  std::vector<uint8_t> syms(5000, 42);
  auto enc = encode(syms, identity_keys());
  EXPECT_LE(enc.size(), 2u);
  EXPECT_EQ(decode(enc, syms.size(), identity_keys()), syms);
}

TEST(Rans, All256SymbolsSkewed) {
  std::mt19937_64 rng(3);
  std::vector<uint8_t> syms(70000);
  for (size_t i = 0; i < syms.size(); ++i) syms[i] = i < 256 ? static_cast<uint8_t>(i) : static_cast<uint8_t>(rng() % 16);
  auto enc = encode(syms, identity_keys());
  EXPECT_LT(enc.size(), syms.size() * 0.6);
  EXPECT_EQ(decode(enc, syms.size(), identity_keys()), syms);
}

TEST(Rans, TwoSymbolsExtremeSkew) {
  std::vector<uint8_t> syms(100000, 0);
  syms[777] = 255;
  syms[99999] = 255;
  auto enc = encode(syms, nullptr);
  EXPECT_LT(enc.size(), 200u);
  EXPECT_EQ(decode(enc, syms.size(), nullptr), syms);
}

TEST(Rans, UniformBytesAreRaw) {
  std::mt19937_64 rng(4);
  std::vector<uint8_t> syms(30000);
  for (auto& s : syms) s = static_cast<uint8_t>(rng());
  auto enc = encode(syms, identity_keys());
  EXPECT_EQ(enc.size(), syms.size() + 1);
  EXPECT_EQ(decode(enc, syms.size(), identity_keys()), syms);
}

TEST(Rans, WrongSymbolCountThrows) {
  auto syms = skewed(50000, 6);
  auto enc = encode(syms, identity_keys());
  Scratch<uint8_t> buf;
  for (size_t n : {49999, 50001}) {
    ByteReader r(enc, "s");
    EXPECT_THROW(decode_stream(r, n, identity_keys(), buf), Error) << n;
  }
}

TEST(Rans, ContextsWithoutKeyMapThrow) {
  auto syms = skewed(50000, 7);
  auto enc = encode(syms, identity_keys());
  ASSERT_EQ(enc[0], 2);  // rANS
  ASSERT_GT(enc[2], 1);  // with contexts
  Scratch<uint8_t> buf;
  ByteReader r(enc, "s");
  EXPECT_THROW(decode_stream(r, syms.size(), nullptr, buf), Error);
}

// Every corruption either throws pith::Error or decodes to some n symbols; under
// ASan this also shows no read or write out of bounds.
TEST(Rans, RandomCorruptionNeverCrashes) {
  std::mt19937_64 rng(8);
  for (size_t n : {50, 3000, 40000}) {
    auto syms = skewed(n, n + 1);
    auto enc = encode(syms, identity_keys());
    for (int iter = 0; iter < 400; ++iter) {
      auto bad = enc;
      switch (iter % 4) {
        case 0: bad[rng() % bad.size()] ^= static_cast<uint8_t>(1u << (rng() % 8)); break;
        case 1: bad.resize(rng() % bad.size()); break;
        case 2:
          for (int k = 0; k < 8; ++k) bad[rng() % bad.size()] = static_cast<uint8_t>(rng());
          break;
        case 3: bad[rng() % std::min<size_t>(bad.size(), 64)] = static_cast<uint8_t>(rng()); break;
      }
      Scratch<uint8_t> buf;
      ByteReader r(bad, "s");
      try {
        const uint8_t* p = decode_stream(r, n, identity_keys(), buf);
        ASSERT_NE(p, nullptr);
      } catch (const Error&) {
      }
    }
  }
}

// Runs the scalar kernel and every SIMD kernel this CPU has on one parsed stream;
// they must agree on the symbols and the verdict. Returns the scalar verdict.
bool kernels_agree(std::span<const uint8_t> enc, size_t n, KeyMap keys) {
  ByteReader r(enc, "s");
  ParsedStream p;
  EXPECT_TRUE(parse_stream(r, n, keys, p));
  std::vector<uint8_t> a(n), b(n);
  LaneJob ja = p.job, jb = p.job;
  ja.out = a.data();
  jb.out = b.data();
  bool ok = decode_lanes_scalar(ja);
  if (p.job.lanes >= 8 && __builtin_cpu_supports("avx2")) {
    EXPECT_EQ(decode_lanes_avx2(jb), ok);
    EXPECT_EQ(a, b);
  }
  return ok;
}

// Two 1-lane streams decoded together must give what each gives alone, intact or
// damaged (a flipped word or state makes the pair fail exactly when one fails).
TEST(Rans, SingleLanePairMatchesSeparateDecodes) {
  std::mt19937_64 rng(5);
  const size_t n = 5000;
  auto enc_a = encode(skewed(n, 1), identity_keys()), enc_b = encode(skewed(n, 2), nullptr);
  for (int iter = 0; iter < 200; ++iter) {
    auto bad_a = enc_a, bad_b = enc_b;
    auto& victim = iter % 2 ? bad_a : bad_b;
    if (iter > 0) victim[8 + rng() % (victim.size() - 8)] ^= static_cast<uint8_t>(1u << (rng() % 8));
    ByteReader ra(bad_a, "a"), rb(bad_b, "b");
    ParsedStream pa, pb;
    try {
      ASSERT_TRUE(parse_stream(ra, n, identity_keys(), pa));
      ASSERT_TRUE(parse_stream(rb, n, nullptr, pb));
    } catch (const Error&) {
      continue;  // a damaged table: nothing to decode
    }
    ASSERT_EQ(pa.job.lanes, 1);
    ASSERT_EQ(pb.job.lanes, 1);
    std::vector<uint8_t> a1(n), b1(n), a2(n), b2(n);
    LaneJob ja = pa.job, jb = pb.job;
    ja.out = a1.data();
    jb.out = b1.data();
    const bool ok = decode_lanes_scalar(ja) & decode_lanes_scalar(jb);
    ja.out = a2.data();
    jb.out = b2.data();
    EXPECT_EQ(decode_single_lane_pair(ja, jb), ok);
    EXPECT_EQ(a1, a2);
    EXPECT_EQ(b1, b2);
    if (iter == 0) {
      EXPECT_TRUE(ok);
      EXPECT_EQ(a1, skewed(n, 1));
    }
  }
}

TEST(Rans, SimdEncoderMatchesScalar) {
  for (KeyMap keys : {KeyMap{nullptr}, identity_keys()})
    for (size_t n : {16384, 16391, 131072, 300007}) {
      auto syms = skewed(n, n + 7);
      ByteWriter a, b;
      encode_stream(syms, keys, a, false);
      encode_stream(syms, keys, b, true);
      EXPECT_EQ(a.buf(), b.buf()) << n;
    }
  // Every frequency from 1 to M: a lone symbol beside a dominant one.
  std::vector<uint8_t> syms(200000, 3);
  for (size_t i = 0; i < syms.size(); i += 997) syms[i] = 200;
  syms[5] = 7;
  ByteWriter a, b;
  encode_stream(syms, nullptr, a, false);
  encode_stream(syms, nullptr, b, true);
  EXPECT_EQ(a.buf(), b.buf());
  EXPECT_EQ(decode(b.buf(), syms.size(), nullptr), syms);
}

// Keys that do not grow with the symbol (like F16's exponent under the sign bit),
// so the SIMD kernel must look contexts up instead of comparing with thresholds.
const uint8_t* wrapping_keys() {
  static const auto k = [] {
    std::array<uint8_t, 256> a{};
    for (int i = 0; i < 256; ++i) a[i] = static_cast<uint8_t>((i >> 2) & 31);
    return a;
  }();
  return k.data();
}

TEST(Rans, SimdKernelMatchesScalar) {
  for (KeyMap keys : {KeyMap{nullptr}, identity_keys(), wrapping_keys()})
    for (size_t n : {16384, 16391, 100005, 131072, 300007}) {
      auto syms = skewed(n, n);
      auto enc = encode(syms, keys);
      ASSERT_GE(enc[1] >> 4, 3) << "expected 8 or 32 lanes";
      if (keys) {
        EXPECT_GT(enc[2], 1) << "expected contexts";
      }
      EXPECT_TRUE(kernels_agree(enc, n, keys));
      std::mt19937_64 rng(n);
      for (int iter = 0; iter < 20; ++iter) {  // corrupt words, headers intact
        auto bad = enc;
        bad[enc.size() - 1 - rng() % (enc.size() / 2)] ^= static_cast<uint8_t>(1 + rng() % 255);
        kernels_agree(bad, n, keys);
      }
    }
}

}  // namespace
}  // namespace pith::rans
