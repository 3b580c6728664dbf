#include <immintrin.h>

#include <algorithm>
#include <limits>

#include "quantize/pq_kernels.h"

namespace pith::pq_kernels_avx2 {

namespace {

// 16 uint16 sums -> 16 distances (fma, as the scalar reference).
inline void store_dist(__m256i sums, __m256 scale, __m256 bias, float* out) {
  __m256 lo = _mm256_cvtepi32_ps(_mm256_cvtepu16_epi32(_mm256_castsi256_si128(sums)));
  __m256 hi = _mm256_cvtepi32_ps(_mm256_cvtepu16_epi32(_mm256_extracti128_si256(sums, 1)));
  _mm256_storeu_ps(out, _mm256_fmadd_ps(lo, scale, bias));
  _mm256_storeu_ps(out + 8, _mm256_fmadd_ps(hi, scale, bias));
}

// Adds the table values of one group of 32 code bytes. Table values are below
// 128, so the two lookups of a byte add without overflow in 8 bits. The 16-bit
// lanes of `all` collect even byte + 256·odd byte (mod 2^16) and `odd` the odd
// bytes alone, so the even sums come out as all − 256·odd.
inline void accumulate(__m256i codes, __m256i tlo, __m256i thi, __m256i& all, __m256i& odd) {
  const __m256i mask = _mm256_set1_epi8(0x0f);
  __m256i r0 = _mm256_shuffle_epi8(tlo, _mm256_and_si256(codes, mask));
  __m256i r1 = _mm256_shuffle_epi8(thi, _mm256_and_si256(_mm256_srli_epi16(codes, 4), mask));
  __m256i s = _mm256_add_epi8(r0, r1);
  all = _mm256_add_epi16(all, s);
  odd = _mm256_add_epi16(odd, _mm256_srli_epi16(s, 8));
}

void scan4fs(const uint8_t* codes, size_t nblocks, size_t npairs, const uint8_t* lut, float scale, float bias,
             float* dist) {
  const __m256 vs = _mm256_set1_ps(scale), vb = _mm256_set1_ps(bias);
  for (size_t b = 0; b < nblocks; ++b) {
    const uint8_t* blk = codes + b * npairs * kFsBlock;
    __m256i all = _mm256_setzero_si256(), odd = _mm256_setzero_si256();
    size_t p = 0;
    for (; p + 2 <= npairs; p += 2) {
      const uint8_t* t = lut + p / 2 * 128;
      accumulate(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + p * kFsBlock)),
                 _mm256_loadu_si256(reinterpret_cast<const __m256i*>(t)),
                 _mm256_loadu_si256(reinterpret_cast<const __m256i*>(t + 64)), all, odd);
      accumulate(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + (p + 1) * kFsBlock)),
                 _mm256_loadu_si256(reinterpret_cast<const __m256i*>(t + 32)),
                 _mm256_loadu_si256(reinterpret_cast<const __m256i*>(t + 96)), all, odd);
    }
    if (p < npairs) {
      const uint8_t* t = lut + p / 2 * 128;
      accumulate(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + p * kFsBlock)),
                 _mm256_loadu_si256(reinterpret_cast<const __m256i*>(t)),
                 _mm256_loadu_si256(reinterpret_cast<const __m256i*>(t + 64)), all, odd);
    }
    float* out = dist + b * kFsBlock;
    store_dist(_mm256_sub_epi16(all, _mm256_slli_epi16(odd, 8)), vs, vb, out);
    store_dist(odd, vs, vb, out + 16);
  }
}

// Appends the distances of the lanes of 16 sums at or below thr, vector v of the
// block for lane v.
inline void emit_le(__m256i v, __m256i thr, float scale, float bias, size_t first, uint32_t* idx, float* dist,
                    size_t& c) {
  // v <= thr as max(v, thr) == thr; the byte mask has two bits per lane.
  unsigned bytes = unsigned(_mm256_movemask_epi8(_mm256_cmpeq_epi16(_mm256_max_epu16(v, thr), thr)));
  if (!bytes) return;
  alignas(32) float d[16];
  store_dist(v, _mm256_set1_ps(scale), _mm256_set1_ps(bias), d);
  for (unsigned m = _pext_u32(bytes, 0x55555555u); m; m &= m - 1) {
    unsigned l = unsigned(__builtin_ctz(m));
    idx[c] = static_cast<uint32_t>(first + l);
    dist[c++] = d[l];
  }
}

// scan4fs for NQ queries: one load and nibble split of the codes feeds all of them;
// each query keeps its two accumulators in registers (the unrolling makes sure).
template <size_t NQ>
void scan4fs_le_n(const uint8_t* codes, size_t nblocks, size_t npairs, const uint8_t* const* luts,
                  const uint16_t* thr, const float* scale, const float* bias, uint32_t* idx, float* dist, size_t* cnt) {
  const __m256i mask = _mm256_set1_epi8(0x0f);
  const size_t stride = nblocks * kFsBlock;
  __m256i vt[NQ];
  #pragma GCC unroll 4
  for (size_t q = 0; q < NQ; ++q) {
    vt[q] = _mm256_set1_epi16(static_cast<short>(thr[q]));
    cnt[q] = 0;
  }
  for (size_t b = 0; b < nblocks; ++b) {
    const uint8_t* blk = codes + b * npairs * kFsBlock;
    __m256i all[NQ], odd[NQ];
    #pragma GCC unroll 4
    for (size_t q = 0; q < NQ; ++q) all[q] = odd[q] = _mm256_setzero_si256();
    // Pair p's tables sit at (p / 2)·128 + (p % 2)·32 (low nibble) and 64 further (high).
    auto pair = [&](size_t p, size_t toff) {
      __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + p * kFsBlock));
      __m256i lo = _mm256_and_si256(c, mask), hi = _mm256_and_si256(_mm256_srli_epi16(c, 4), mask);
      #pragma GCC unroll 4
      for (size_t q = 0; q < NQ; ++q) {
        const uint8_t* t = luts[q] + toff;
        __m256i s = _mm256_add_epi8(
            _mm256_shuffle_epi8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(t)), lo),
            _mm256_shuffle_epi8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(t + 64)), hi));
        all[q] = _mm256_add_epi16(all[q], s);
        odd[q] = _mm256_add_epi16(odd[q], _mm256_srli_epi16(s, 8));
      }
    };
    size_t p = 0;
    for (; p + 2 <= npairs; p += 2) {
      pair(p, p * 64);
      pair(p + 1, p * 64 + 32);
    }
    if (p < npairs) pair(p, p * 64);
    #pragma GCC unroll 4
    for (size_t q = 0; q < NQ; ++q) {
      __m256i even = _mm256_sub_epi16(all[q], _mm256_slli_epi16(odd[q], 8));
      emit_le(even, vt[q], scale[q], bias[q], b * kFsBlock, idx + q * stride, dist + q * stride, cnt[q]);
      emit_le(odd[q], vt[q], scale[q], bias[q], b * kFsBlock + 16, idx + q * stride, dist + q * stride, cnt[q]);
    }
  }
}

// Four queries at most per pass: 16 registers hold their eight accumulators, the
// codes and the nibbles; more queries take further passes.
void scan4fs_le(const uint8_t* codes, size_t nblocks, size_t npairs, const uint8_t* const* luts, size_t nq,
                const uint16_t* thr, const float* scale, const float* bias, uint32_t* idx, float* dist, size_t* cnt) {
  const size_t stride = nblocks * kFsBlock;
  for (size_t q = 0; q < nq; q += 4) {
    auto pass = [&]<size_t NQ>() {
      scan4fs_le_n<NQ>(codes, nblocks, npairs, luts + q, thr + q, scale + q, bias + q, idx + q * stride,
                       dist + q * stride, cnt + q);
    };
    switch (std::min<size_t>(nq - q, 4)) {
      case 1: pass.template operator()<1>(); break;
      case 2: pass.template operator()<2>(); break;
      case 3: pass.template operator()<3>(); break;
      default: pass.template operator()<4>(); break;
    }
  }
}

// Per lane the first minimum (strict <), then the smallest index among the lanes
// holding the overall minimum: the first minimum of the row, as the scalar loop.
void nearest(const float* dots, size_t rows, size_t k, const float* cnorm, uint32_t* out, float* best) {
  const __m256 two = _mm256_set1_ps(2.0f);
  const __m256i step = _mm256_set1_epi32(8);
  for (size_t r = 0; r < rows; ++r) {
    const float* dr = dots + r * k;
    __m256 bv = _mm256_set1_ps(std::numeric_limits<float>::infinity());
    __m256i bi = _mm256_setzero_si256();
    __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    size_t j = 0;
    for (; j + 8 <= k; j += 8) {
      __m256 v = _mm256_sub_ps(_mm256_loadu_ps(cnorm + j), _mm256_mul_ps(two, _mm256_loadu_ps(dr + j)));
      __m256 lt = _mm256_cmp_ps(v, bv, _CMP_LT_OQ);
      bv = _mm256_blendv_ps(bv, v, lt);
      bi = _mm256_blendv_epi8(bi, idx, _mm256_castps_si256(lt));
      idx = _mm256_add_epi32(idx, step);
    }
    alignas(32) float lv[8];
    alignas(32) uint32_t li[8];
    _mm256_store_ps(lv, bv);
    _mm256_store_si256(reinterpret_cast<__m256i*>(li), bi);
    float b = std::numeric_limits<float>::infinity();
    uint32_t arg = 0;
    for (int l = 0; l < 8; ++l)
      if (lv[l] < b || (lv[l] == b && li[l] < arg)) {
        b = lv[l];
        arg = li[l];
      }
    for (; j < k; ++j) {
      float v = cnorm[j] - 2 * dr[j];
      if (v < b) {
        b = v;
        arg = static_cast<uint32_t>(j);
      }
    }
    out[r] = arg;
    best[r] = b;
  }
}

}  // namespace

const PqKernels table{pq_kernels_scalar::table.scan8, scan4fs, scan4fs_le, nearest};

}  // namespace pith::pq_kernels_avx2
