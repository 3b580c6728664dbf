// GCC 12 warns falsely inside its own AVX-512 headers (the _mm512_undefined_*
// placeholders of the cast and extract intrinsics, GCC bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <limits>

#include "quantize/pq_kernels.h"

namespace pith::pq_kernels_avx512 {

namespace {

// 16 uint16 sums -> 16 distances (fma, as the scalar reference).
inline void store_dist(__m256i sums, __m512 scale, __m512 bias, float* out) {
  __m512 f = _mm512_cvtepi32_ps(_mm512_cvtepu16_epi32(sums));
  _mm512_storeu_ps(out, _mm512_fmadd_ps(f, scale, bias));
}

// One 64-byte load covers two pairs of sub-quantizers (lanes 0–1 and 2–3), whose
// tables the LUT layout keeps side by side. Table values are below 128, so the
// two lookups of a byte add in 8 bits; the 16-bit lanes of `all` collect even
// byte + 256·odd byte (mod 2^16) and `odd` the odd bytes alone.
void scan4fs(const uint8_t* codes, size_t nblocks, size_t npairs, const uint8_t* lut, float scale, float bias,
             float* dist) {
  const __m512i mask = _mm512_set1_epi8(0x0f);
  const __m256i mask256 = _mm256_set1_epi8(0x0f);
  const __m512 vs = _mm512_set1_ps(scale), vb = _mm512_set1_ps(bias);
  size_t ngroups = npairs / 2;
  for (size_t b = 0; b < nblocks; ++b) {
    const uint8_t* blk = codes + b * npairs * kFsBlock;
    __m512i all = _mm512_setzero_si512(), odd = _mm512_setzero_si512();
    for (size_t g = 0; g < ngroups; ++g) {
      __m512i c = _mm512_loadu_si512(blk + g * 64);
      __m512i r0 = _mm512_shuffle_epi8(_mm512_loadu_si512(lut + g * 128), _mm512_and_si512(c, mask));
      __m512i r1 = _mm512_shuffle_epi8(_mm512_loadu_si512(lut + g * 128 + 64),
                                       _mm512_and_si512(_mm512_srli_epi16(c, 4), mask));
      __m512i s = _mm512_add_epi8(r0, r1);
      all = _mm512_add_epi16(all, s);
      odd = _mm512_add_epi16(odd, _mm512_srli_epi16(s, 8));
    }
    __m256i all2 = _mm256_add_epi16(_mm512_castsi512_si256(all), _mm512_extracti64x4_epi64(all, 1));
    __m256i odd2 = _mm256_add_epi16(_mm512_castsi512_si256(odd), _mm512_extracti64x4_epi64(odd, 1));
    if (npairs % 2) {  // last pair alone, with 256-bit registers
      const uint8_t* t = lut + ngroups * 128;
      __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + ngroups * 64));
      __m256i r0 = _mm256_shuffle_epi8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(t)),
                                       _mm256_and_si256(c, mask256));
      __m256i r1 = _mm256_shuffle_epi8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(t + 64)),
                                       _mm256_and_si256(_mm256_srli_epi16(c, 4), mask256));
      __m256i s = _mm256_add_epi8(r0, r1);
      all2 = _mm256_add_epi16(all2, s);
      odd2 = _mm256_add_epi16(odd2, _mm256_srli_epi16(s, 8));
    }
    float* out = dist + b * kFsBlock;
    store_dist(_mm256_sub_epi16(all2, _mm256_slli_epi16(odd2, 8)), vs, vb, out);
    store_dist(odd2, vs, vb, out + 16);
  }
}

// Appends the distances of the lanes of 16 sums that `keep` selects, vector v of
// the block for lane v.
inline void emit(__m256i v, __mmask16 keep, __m512 scale, __m512 bias, size_t first, uint32_t* idx, float* dist,
                 size_t& c) {
  alignas(64) float d[16];
  store_dist(v, scale, bias, d);
  for (unsigned m = keep; m; m &= m - 1) {
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
  const __m512i mask = _mm512_set1_epi8(0x0f);
  const __m256i mask256 = _mm256_set1_epi8(0x0f);
  const size_t ngroups = npairs / 2, stride = nblocks * kFsBlock;
  __m256i vt[NQ];
  #pragma GCC unroll 8
  for (size_t q = 0; q < NQ; ++q) {
    vt[q] = _mm256_set1_epi16(static_cast<short>(thr[q]));
    cnt[q] = 0;
  }
  for (size_t b = 0; b < nblocks; ++b) {
    const uint8_t* blk = codes + b * npairs * kFsBlock;
    __m512i all[NQ], odd[NQ];
    #pragma GCC unroll 8
    for (size_t q = 0; q < NQ; ++q) all[q] = odd[q] = _mm512_setzero_si512();
    for (size_t g = 0; g < ngroups; ++g) {
      __m512i c = _mm512_loadu_si512(blk + g * 64);
      __m512i lo = _mm512_and_si512(c, mask), hi = _mm512_and_si512(_mm512_srli_epi16(c, 4), mask);
      #pragma GCC unroll 8
      for (size_t q = 0; q < NQ; ++q) {
        const uint8_t* t = luts[q] + g * 128;
        __m512i s = _mm512_add_epi8(_mm512_shuffle_epi8(_mm512_loadu_si512(t), lo),
                                    _mm512_shuffle_epi8(_mm512_loadu_si512(t + 64), hi));
        all[q] = _mm512_add_epi16(all[q], s);
        odd[q] = _mm512_add_epi16(odd[q], _mm512_srli_epi16(s, 8));
      }
    }
    __m256i all2[NQ], odd2[NQ];
    #pragma GCC unroll 8
    for (size_t q = 0; q < NQ; ++q) {
      all2[q] = _mm256_add_epi16(_mm512_castsi512_si256(all[q]), _mm512_extracti64x4_epi64(all[q], 1));
      odd2[q] = _mm256_add_epi16(_mm512_castsi512_si256(odd[q]), _mm512_extracti64x4_epi64(odd[q], 1));
    }
    if (npairs % 2) {  // last pair alone, with 256-bit registers
      __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + ngroups * 64));
      __m256i lo = _mm256_and_si256(c, mask256), hi = _mm256_and_si256(_mm256_srli_epi16(c, 4), mask256);
      #pragma GCC unroll 8
      for (size_t q = 0; q < NQ; ++q) {
        const uint8_t* t = luts[q] + ngroups * 128;
        __m256i s = _mm256_add_epi8(
            _mm256_shuffle_epi8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(t)), lo),
            _mm256_shuffle_epi8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(t + 64)), hi));
        all2[q] = _mm256_add_epi16(all2[q], s);
        odd2[q] = _mm256_add_epi16(odd2[q], _mm256_srli_epi16(s, 8));
      }
    }
    #pragma GCC unroll 8
    for (size_t q = 0; q < NQ; ++q) {
      __m256i even = _mm256_sub_epi16(all2[q], _mm256_slli_epi16(odd2[q], 8));
      __mmask16 ke = _mm256_cmple_epu16_mask(even, vt[q]), ko = _mm256_cmple_epu16_mask(odd2[q], vt[q]);
      if (ke | ko) {
        const __m512 vs = _mm512_set1_ps(scale[q]), vb = _mm512_set1_ps(bias[q]);
        uint32_t* qi = idx + q * stride;
        float* qd = dist + q * stride;
        emit(even, ke, vs, vb, b * kFsBlock, qi, qd, cnt[q]);
        emit(odd2[q], ko, vs, vb, b * kFsBlock + 16, qi, qd, cnt[q]);
      }
    }
  }
}

// Up to 8 queries per pass: their 16 accumulators, the codes and the nibbles fit
// the 32 registers (8 per pass measured 8% faster than 4).
void scan4fs_le(const uint8_t* codes, size_t nblocks, size_t npairs, const uint8_t* const* luts, size_t nq,
                const uint16_t* thr, const float* scale, const float* bias, uint32_t* idx, float* dist, size_t* cnt) {
  static_assert(kFsMaxQueries == 8);
  auto pass = [&]<size_t NQ>() { scan4fs_le_n<NQ>(codes, nblocks, npairs, luts, thr, scale, bias, idx, dist, cnt); };
  switch (nq) {
    case 1: return pass.template operator()<1>();
    case 2: return pass.template operator()<2>();
    case 3: return pass.template operator()<3>();
    case 4: return pass.template operator()<4>();
    case 5: return pass.template operator()<5>();
    case 6: return pass.template operator()<6>();
    case 7: return pass.template operator()<7>();
    default: return pass.template operator()<8>();
  }
}

// Per lane the first minimum (strict <), then the smallest index among the lanes
// holding the overall minimum: the first minimum of the row, as the scalar loop.
void nearest(const float* dots, size_t rows, size_t k, const float* cnorm, uint32_t* out, float* best) {
  const __m512 two = _mm512_set1_ps(2.0f);
  const __m512i step = _mm512_set1_epi32(16);
  for (size_t r = 0; r < rows; ++r) {
    const float* dr = dots + r * k;
    __m512 bv = _mm512_set1_ps(std::numeric_limits<float>::infinity());
    __m512i bi = _mm512_setzero_si512();
    __m512i idx = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    size_t j = 0;
    for (; j + 16 <= k; j += 16) {
      __m512 v = _mm512_sub_ps(_mm512_loadu_ps(cnorm + j), _mm512_mul_ps(two, _mm512_loadu_ps(dr + j)));
      __mmask16 lt = _mm512_cmp_ps_mask(v, bv, _CMP_LT_OQ);
      bv = _mm512_mask_mov_ps(bv, lt, v);
      bi = _mm512_mask_mov_epi32(bi, lt, idx);
      idx = _mm512_add_epi32(idx, step);
    }
    float b = _mm512_reduce_min_ps(bv);
    __mmask16 eq = _mm512_cmp_ps_mask(bv, _mm512_set1_ps(b), _CMP_EQ_OQ);
    uint32_t arg = eq ? _mm512_mask_reduce_min_epu32(eq, bi) : 0;
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

}  // namespace pith::pq_kernels_avx512
