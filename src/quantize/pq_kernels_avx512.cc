// GCC 12 warns falsely inside its own AVX-512 headers (the _mm512_undefined_*
// placeholders of the cast and extract intrinsics, GCC bug 105593), as
// -Wmaybe-uninitialized or, where the inlined value is certain, -Wuninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <algorithm>
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
inline __m512i lookup_pairs(__m512i lo, __m512i hi, const uint8_t* t) {
  return _mm512_add_epi8(_mm512_shuffle_epi8(_mm512_loadu_si512(t), lo),
                         _mm512_shuffle_epi8(_mm512_loadu_si512(t + 64), hi));
}

// Adds 64 byte sums to the 16-bit accumulators as above.
inline void widen_add(__m512i s, __m512i& all, __m512i& odd) {
  all = _mm512_add_epi16(all, s);
  odd = _mm512_add_epi16(odd, _mm512_srli_epi16(s, 8));
}

// The pairs from `g0` on (the 256-bit tail of an odd count included) into the
// accumulators of one query, folded to 16 sums of vectors 0–15 (`even`) and 16–31 (`odd2`).
inline void finish_sums(const uint8_t* blk, size_t g0, size_t npairs, const uint8_t* lut, __m512i all, __m512i odd,
                        __m256i& even, __m256i& odd2) {
  const __m512i mask = _mm512_set1_epi8(0x0f);
  const size_t ngroups = npairs / 2;
  for (size_t g = g0; g < ngroups; ++g) {
    __m512i c = _mm512_loadu_si512(blk + g * 64);
    widen_add(lookup_pairs(_mm512_and_si512(c, mask), _mm512_and_si512(_mm512_srli_epi16(c, 4), mask), lut + g * 128),
              all, odd);
  }
  __m256i all2 = _mm256_add_epi16(_mm512_castsi512_si256(all), _mm512_extracti64x4_epi64(all, 1));
  odd2 = _mm256_add_epi16(_mm512_castsi512_si256(odd), _mm512_extracti64x4_epi64(odd, 1));
  if (npairs % 2) {  // last pair alone, with 256-bit registers
    const __m256i mask256 = _mm256_set1_epi8(0x0f);
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
  even = _mm256_sub_epi16(all2, _mm256_slli_epi16(odd2, 8));
}

void scan4fs(const uint8_t* codes, size_t nblocks, size_t npairs, const uint8_t* lut, float scale, float bias,
             float* dist) {
  const __m512 vs = _mm512_set1_ps(scale), vb = _mm512_set1_ps(bias);
  for (size_t b = 0; b < nblocks; ++b) {
    __m256i even, odd;
    finish_sums(codes + b * npairs * kFsBlock, 0, npairs, lut, _mm512_setzero_si512(), _mm512_setzero_si512(), even,
                odd);
    store_dist(even, vs, vb, dist + b * kFsBlock);
    store_dist(odd, vs, vb, dist + b * kFsBlock + 16);
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

// Appends the vectors of a block (the first numbered `first`) whose sums, vectors
// 0–15 in `even` and 16–31 in `odd2`, are at or below thr.
inline void emit_le(__m256i even, __m256i odd2, uint16_t thr, float scale, float bias, size_t first, uint32_t* idx,
                    float* dist, size_t& c) {
  const __m256i vt = _mm256_set1_epi16(static_cast<short>(thr));
  __mmask16 ke = _mm256_cmple_epu16_mask(even, vt), ko = _mm256_cmple_epu16_mask(odd2, vt);
  if (ke | ko) {
    const __m512 vs = _mm512_set1_ps(scale), vb = _mm512_set1_ps(bias);
    emit(even, ke, vs, vb, first, idx, dist, c);
    emit(odd2, ko, vs, vb, first + 16, idx, dist, c);
  }
}

// Nibble indices of the code group g of a block: one of its ngroups 64-byte groups,
// or g == ngroups, the 32 bytes of a last lone pair, with the upper half indices
// 0x80, which vpshufb turns into zeros.
template <bool TAIL>
inline void group_nibbles(const uint8_t* blk, size_t g, size_t ngroups, __m512i& lo, __m512i& hi) {
  const __m512i mask = _mm512_set1_epi8(0x0f);
  __m512i c = TAIL && g == ngroups
                  ? _mm512_zextsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + g * 64)))
                  : _mm512_loadu_si512(blk + g * 64);
  lo = _mm512_and_si512(c, mask);
  hi = _mm512_and_si512(_mm512_srli_epi16(c, 4), mask);
  if (TAIL && g == ngroups) {
    const __m512i upper = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi8(char(0x80)), 1);
    lo = _mm512_or_si512(lo, upper);
    hi = _mm512_or_si512(hi, upper);
  }
}

// The exact thresholded scan: NQ queries share each load and nibble split of the
// codes; each query keeps its two accumulators in registers (the unrolling makes sure).
template <size_t NQ>
void scan4fs_le_exact(const uint8_t* codes, size_t nblocks, size_t npairs, const uint8_t* const* luts,
                      const uint16_t* thr, const float* scale, const float* bias, size_t stride, uint32_t* idx,
                      float* dist, size_t* cnt) {
  const __m512i mask = _mm512_set1_epi8(0x0f);
  const __m256i mask256 = _mm256_set1_epi8(0x0f);
  const size_t ngroups = npairs / 2;
  __m256i vt[NQ];
  #pragma GCC unroll 8
  for (size_t q = 0; q < NQ; ++q) vt[q] = _mm256_set1_epi16(static_cast<short>(thr[q]));
  for (size_t b = 0; b < nblocks; ++b) {
    const uint8_t* blk = codes + b * npairs * kFsBlock;
    __m512i all[NQ], odd[NQ];
    #pragma GCC unroll 8
    for (size_t q = 0; q < NQ; ++q) all[q] = odd[q] = _mm512_setzero_si512();
    for (size_t g = 0; g < ngroups; ++g) {
      __m512i c = _mm512_loadu_si512(blk + g * 64);
      __m512i lo = _mm512_and_si512(c, mask), hi = _mm512_and_si512(_mm512_srli_epi16(c, 4), mask);
      #pragma GCC unroll 8
      for (size_t q = 0; q < NQ; ++q) widen_add(lookup_pairs(lo, hi, luts[q] + g * 128), all[q], odd[q]);
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
        emit(even, ke, vs, vb, b * kFsBlock, idx + q * stride, dist + q * stride, cnt[q]);
        emit(odd2[q], ko, vs, vb, b * kFsBlock + 16, idx + q * stride, dist + q * stride, cnt[q]);
      }
    }
  }
}

// The bounded scan. Per query and vector, the byte sums of every two code groups
// (one per 64-byte register, see lookup_pairs) are averaged with vpavgb and the
// averages added with unsigned saturation: all in 8 bits, so no widening per
// group, and with two blocks per pass each table register serves both, which
// halves the loads and ops per vector that bound the exact scan. A register holds
// two halves of each vector's sum (pairs 2g and 2g+1). vpavgb rounds up by at most
// 1/2, so 2·average >= the sum of the two groups − 1; with H the saturated sum of
// a half's m averages (saturation only lowers it), half sum >= 2·H − m, and a
// vector can be at or below thr only if the 16-bit H_a + H_b <= lim = (thr + 2·m) / 2.
// Blocks where some vector passes are summed exactly for that query.
constexpr size_t kBoundQueries = 4, kBoundBlocks = 2;
inline uint32_t bound_limit(uint16_t thr, size_t npairs) {
  const uint32_t m = uint32_t(npairs / 2 + npairs % 2 + 1) / 2;
  return (thr + 2 * m) / 2;
}

// NQ queries over the NB blocks from b.
template <size_t NQ, size_t NB, bool SMALL>
inline void scan4fs_le_bound_blocks(const uint8_t* codes, size_t b, size_t npairs, const uint8_t* const* luts,
                                    const __m256i* vlim, const uint16_t* thr, const float* scale, const float* bias,
                                    size_t stride, uint32_t* idx, float* dist, size_t* cnt) {
  const size_t ngroups = npairs / 2, nslots = ngroups + npairs % 2, nfull = ngroups / 2 * 2, bb = npairs * kFsBlock;
  const uint8_t* blk = codes + b * bb;
  __m512i x[NQ][NB];
  #pragma GCC unroll 8
  for (size_t q = 0; q < NQ; ++q)
    #pragma GCC unroll 8
    for (size_t k = 0; k < NB; ++k) x[q][k] = _mm512_setzero_si512();
  // The nibbles of both groups of all blocks first, then per query its four table
  // registers: every value stays in a register (more live values made GCC reload tables).
  auto two_groups = [&]<bool TAIL>(size_t g0) {
    __m512i lo[2][NB], hi[2][NB];
    #pragma GCC unroll 8
    for (size_t p = 0; p < 2; ++p)
      #pragma GCC unroll 8
      for (size_t k = 0; k < NB; ++k) {
        if (!TAIL || g0 + p < nslots) {
          group_nibbles<TAIL>(blk + k * bb, g0 + p, ngroups, lo[p][k], hi[p][k]);
        } else {
          lo[p][k] = hi[p][k] = _mm512_set1_epi8(char(0x80));  // no group: sums 0
        }
      }
    #pragma GCC unroll 8
    for (size_t q = 0; q < NQ; ++q) {
      __m512i t[2][2];
      #pragma GCC unroll 8
      for (size_t p = 0; p < 2; ++p) {
        if (!TAIL || g0 + p < nslots) {
          t[p][0] = _mm512_loadu_si512(luts[q] + (g0 + p) * 128);
          t[p][1] = _mm512_loadu_si512(luts[q] + (g0 + p) * 128 + 64);
        } else {  // past the tables
          t[p][0] = t[p][1] = _mm512_setzero_si512();
        }
      }
      // Loaded once: GCC would otherwise load each table again for each block.
      asm("" : "+v"(t[0][0]), "+v"(t[0][1]), "+v"(t[1][0]), "+v"(t[1][1]));
      #pragma GCC unroll 8
      for (size_t k = 0; k < NB; ++k) {
        __m512i avg = _mm512_avg_epu8(
            _mm512_add_epi8(_mm512_shuffle_epi8(t[0][0], lo[0][k]), _mm512_shuffle_epi8(t[0][1], hi[0][k])),
            _mm512_add_epi8(_mm512_shuffle_epi8(t[1][0], lo[1][k]), _mm512_shuffle_epi8(t[1][1], hi[1][k])));
        x[q][k] = _mm512_adds_epu8(x[q][k], avg);
      }
    }
  };
  for (size_t g0 = 0; g0 < nfull; g0 += 2) two_groups.template operator()<false>(g0);
  if (nfull < nslots) two_groups.template operator()<true>(nfull);
  const __m512i low = _mm512_set1_epi16(0x00ff);
  #pragma GCC unroll 8
  for (size_t q = 0; q < NQ; ++q)
    #pragma GCC unroll 8
    for (size_t k = 0; k < NB; ++k) {
      bool pass;
      if constexpr (SMALL) {  // limits below 255: H_a + H_b saturated to 8 bits decides as well
        __m256i y = _mm256_adds_epu8(_mm512_castsi512_si256(x[q][k]), _mm512_extracti64x4_epi64(x[q][k], 1));
        pass = _mm256_cmple_epu8_mask(y, vlim[q]) != 0;
      } else {
        __m512i e = _mm512_and_si512(x[q][k], low), o = _mm512_srli_epi16(x[q][k], 8);
        __m256i ye = _mm256_add_epi16(_mm512_castsi512_si256(e), _mm512_extracti64x4_epi64(e, 1));
        __m256i yo = _mm256_add_epi16(_mm512_castsi512_si256(o), _mm512_extracti64x4_epi64(o, 1));
        pass = (_mm256_cmple_epu16_mask(ye, vlim[q]) | _mm256_cmple_epu16_mask(yo, vlim[q])) != 0;
      }
      if (pass) {
        __m256i even, odd2;
        finish_sums(blk + k * bb, 0, npairs, luts[q], _mm512_setzero_si512(), _mm512_setzero_si512(), even, odd2);
        emit_le(even, odd2, thr[q], scale[q], bias[q], (b + k) * kFsBlock, idx + q * stride, dist + q * stride,
                cnt[q]);
      }
    }
}

template <size_t NQ>
void scan4fs_le_bound(const uint8_t* codes, size_t nblocks, size_t npairs, const uint8_t* const* luts,
                      const uint16_t* thr, const float* scale, const float* bias, size_t stride, uint32_t* idx,
                      float* dist, size_t* cnt) {
  uint32_t lim[NQ], top = 0;
  for (size_t q = 0; q < NQ; ++q) top = std::max(top, lim[q] = bound_limit(thr[q], npairs));
  auto run = [&]<bool SMALL>() {
    __m256i vlim[NQ];
    for (size_t q = 0; q < NQ; ++q)
      vlim[q] = SMALL ? _mm256_set1_epi8(static_cast<char>(lim[q])) : _mm256_set1_epi16(static_cast<short>(lim[q]));
    size_t b = 0;
    for (; b + kBoundBlocks <= nblocks; b += kBoundBlocks)
      scan4fs_le_bound_blocks<NQ, kBoundBlocks, SMALL>(codes, b, npairs, luts, vlim, thr, scale, bias, stride, idx,
                                                        dist, cnt);
    for (; b < nblocks; ++b)
      scan4fs_le_bound_blocks<NQ, 1, SMALL>(codes, b, npairs, luts, vlim, thr, scale, bias, stride, idx, dist, cnt);
  };
  if (top < 255) run.template operator()<true>();
  else run.template operator()<false>();
}

// The bounds reach at most 510 (two saturated halves): a limit near that lets
// many vectors through, each costing an exact pass over its block, and the exact
// scan is faster (sift128's limits, from top-10 selections, stay far below).
constexpr uint32_t kBoundMaxLimit = 448;

void scan4fs_le(const uint8_t* codes, size_t nblocks, size_t npairs, const uint8_t* const* luts, size_t nq,
                const uint16_t* thr, const float* scale, const float* bias, uint32_t* idx, float* dist, size_t* cnt) {
  static_assert(kFsMaxQueries == 8 && kBoundQueries == 4);
  const size_t stride = nblocks * kFsBlock;
  for (size_t q = 0; q < nq; ++q) cnt[q] = 0;
  bool bound = true;
  for (size_t q = 0; q < nq; ++q) bound &= bound_limit(thr[q], npairs) < kBoundMaxLimit;
  if (!bound) {
    auto pass = [&]<size_t NQ>() {
      scan4fs_le_exact<NQ>(codes, nblocks, npairs, luts, thr, scale, bias, stride, idx, dist, cnt);
    };
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
  for (size_t q0 = 0; q0 < nq; q0 += kBoundQueries) {
    auto pass = [&]<size_t NQ>() {
      scan4fs_le_bound<NQ>(codes, nblocks, npairs, luts + q0, thr + q0, scale + q0, bias + q0, stride,
                           idx + q0 * stride, dist + q0 * stride, cnt + q0);
    };
    switch (std::min(kBoundQueries, nq - q0)) {
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
