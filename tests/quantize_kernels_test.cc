// Every SIMD level of the quantize kernels against the scalar reference.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "common/cpu.h"
#include "quantize/half.h"
#include "quantize/kernels.h"

using namespace pith;

namespace {
std::vector<SimdLevel> simd_levels() {
  std::vector<SimdLevel> v;
  for (int l = 1; l <= static_cast<int>(simd_level()); ++l) v.push_back(static_cast<SimdLevel>(l));
  return v;
}
void expect_close(const std::vector<float>& a, const std::vector<float>& b, const char* what) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i)
    ASSERT_NEAR(a[i], b[i], 1e-4f * (1 + std::fabs(b[i]))) << what << " row " << i;
}
const size_t kDims[] = {1, 7, 8, 15, 16, 17, 31, 33, 64, 100, 128, 300};
}  // namespace

TEST(QuantizeKernels, HalfScansMatchScalar) {
  if (simd_levels().empty()) GTEST_SKIP() << "no SIMD on this CPU";
  std::mt19937 g(1);
  std::normal_distribution<float> nd;
  const auto& ref = quantize_kernels(SimdLevel::Scalar);
  for (size_t d : kDims) {
    const size_t n = 37;
    std::vector<uint16_t> h(n * d), b(n * d);
    std::vector<float> q(d);
    for (size_t i = 0; i < n * d; ++i) {
      float x = nd(g);
      h[i] = float_to_f16(x);
      b[i] = float_to_bf16(x);
    }
    for (auto& x : q) x = nd(g);
    for (bool l2 : {false, true}) {
      std::vector<float> r1(n), r2(n);
      ref.scan_f16(h.data(), n, d, q.data(), l2, r1.data());
      ref.scan_bf16(b.data(), n, d, q.data(), l2, r2.data());
      for (SimdLevel l : simd_levels()) {
        std::vector<float> o1(n), o2(n);
        quantize_kernels(l).scan_f16(h.data(), n, d, q.data(), l2, o1.data());
        quantize_kernels(l).scan_bf16(b.data(), n, d, q.data(), l2, o2.data());
        expect_close(o1, r1, simd_name(l));
        expect_close(o2, r2, simd_name(l));
      }
    }
  }
}

TEST(QuantizeKernels, SqScanMatchesScalar) {
  if (simd_levels().empty()) GTEST_SKIP() << "no SIMD on this CPU";
  std::mt19937 g(2);
  std::uniform_real_distribution<float> ud(-1, 1);
  const auto& ref = quantize_kernels(SimdLevel::Scalar);
  for (int bits : {2, 4, 8})
    for (size_t d : kDims) {
      const size_t n = 29, row = (d * bits + 7) / 8;
      std::vector<uint8_t> codes(n * row);
      for (auto& c : codes) c = static_cast<uint8_t>(g());
      std::vector<float> a(d), w(d);
      for (auto& x : a) x = ud(g);
      for (auto& x : w) x = ud(g);
      for (bool l2 : {false, true}) {
        std::vector<float> r(n);
        ref.scan_sq(codes.data(), n, d, bits, a.data(), w.data(), l2, r.data());
        for (SimdLevel l : simd_levels()) {
          std::vector<float> o(n);
          quantize_kernels(l).scan_sq(codes.data(), n, d, bits, a.data(), w.data(), l2, o.data());
          expect_close(o, r, simd_name(l));
        }
      }
    }
}

TEST(QuantizeKernels, RabitqDotsMatchScalarExactly) {
  std::mt19937_64 g(3);
  const auto& ref = quantize_kernels(SimdLevel::Scalar);
  for (size_t words : {1, 2, 5, 8, 9, 17})
    for (int cbits : {1, 2, 3, 8})
      for (int qbits : {4, 8}) {
        const size_t nblocks = 5, block_bytes = cbits * words * 64 + 80;  // planes, then other bytes
        std::vector<uint8_t> codes(nblocks * block_bytes);
        for (auto& c : codes) c = static_cast<uint8_t>(g());
        std::vector<uint64_t> q(qbits * words);
        for (auto& x : q) x = g();
        const size_t n = nblocks * 8;
        std::vector<uint64_t> dot(n), sum(n);
        ref.rabitq_dots(codes.data(), nblocks, block_bytes, words, cbits, q.data(), qbits, dot.data(), sum.data());
        // the reference itself against the definition Σ u_j·qu_j, Σ u_j
        for (size_t i = 0; i < n; ++i) {
          uint64_t dt = 0, sm = 0;
          for (size_t j = 0; j < words * 64; ++j) {
            uint64_t u = 0, v = 0;
            for (int b = 0; b < cbits; ++b) {
              uint64_t wd;
              std::memcpy(&wd, &codes[i / 8 * block_bytes + ((b * words + j / 64) * 8 + i % 8) * 8], 8);
              u |= ((wd >> (j % 64)) & 1) << b;
            }
            for (int k = 0; k < qbits; ++k) v |= ((q[k * words + j / 64] >> (j % 64)) & 1) << k;
            dt += u * v;
            sm += u;
          }
          ASSERT_EQ(dot[i], dt);
          ASSERT_EQ(sum[i], sm);
        }
        for (SimdLevel l : simd_levels()) {
          std::vector<uint64_t> d2(n), s2(n);
          quantize_kernels(l).rabitq_dots(codes.data(), nblocks, block_bytes, words, cbits, q.data(), qbits, d2.data(),
                                          s2.data());
          EXPECT_EQ(d2, dot) << simd_name(l);
          EXPECT_EQ(s2, sum) << simd_name(l);
        }
      }
}

TEST(QuantizeKernels, HalfConversions) {
  EXPECT_EQ(float_to_f16(1.0f), 0x3C00);
  EXPECT_EQ(float_to_f16(-2.0f), 0xC000);
  EXPECT_EQ(float_to_f16(65504.f), 0x7BFF);
  EXPECT_EQ(float_to_f16(65520.f), 0x7C00);
  EXPECT_EQ(float_to_f16(0x1.0p-24f), 0x0001);
  EXPECT_EQ(float_to_f16(0x1.0p-25f), 0x0000);  // tie goes to even
  EXPECT_EQ(float_to_f16(1.0f + 0x1.0p-11f), 0x3C00);
  EXPECT_EQ(float_to_f16(1.0f + 0x1.8p-11f), 0x3C01);
  EXPECT_EQ(float_to_f16(1.0f + 0x1.8p-10f), 0x3C02);  // tie goes to even
  EXPECT_EQ(float_to_bf16(1.0f + 0x1.0p-8f), 0x3F80);
  EXPECT_EQ(float_to_bf16(1.0f + 0x1.8p-8f), 0x3F81);
  EXPECT_EQ(float_to_bf16(1.0f + 0x1.8p-7f), 0x3F82);
  // every half value survives half -> float -> half
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7C00) == 0x7C00 && (h & 0x3FF)) continue;  // NaN payloads
    ASSERT_EQ(float_to_f16(f16_to_float(static_cast<uint16_t>(h))), h);
  }
}
