// AVX-512 (F, BW, VL, VPOPCNTDQ) kernels. Tails use masked loads, so every
// dimension goes through the same vector code.
// GCC 12's AVX-512 headers trip -Wmaybe-uninitialized on their own
// _mm512_undefined_* placeholders (GCC bug 105593, fixed in GCC 13).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "quantize/kernels.h"

namespace pith::kernels_avx512 {

namespace {

inline __m512 load_f16(const uint16_t* p, __mmask16 m) { return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p)); }
inline __m512 load_bf16(const uint16_t* p, __mmask16 m) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p)), 16));
}

template <__m512 (*load)(const uint16_t*, __mmask16)>
void scan_half(const uint16_t* codes, size_t n, size_t d, const float* q, bool l2, float* dist) {
  for (size_t i = 0; i < n; ++i) {
    const uint16_t* c = codes + i * d;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    size_t j = 0;
    if (l2) {
      for (; j + 32 <= d; j += 32) {
        __m512 t0 = _mm512_sub_ps(_mm512_loadu_ps(q + j), load(c + j, 0xFFFF));
        __m512 t1 = _mm512_sub_ps(_mm512_loadu_ps(q + j + 16), load(c + j + 16, 0xFFFF));
        acc0 = _mm512_fmadd_ps(t0, t0, acc0);
        acc1 = _mm512_fmadd_ps(t1, t1, acc1);
      }
      for (; j < d; j += 16) {
        __mmask16 m = d - j >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << (d - j)) - 1);
        __m512 t = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, q + j), load(c + j, m));
        acc0 = _mm512_fmadd_ps(t, t, acc0);
      }
    } else {
      for (; j + 32 <= d; j += 32) {
        acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + j), load(c + j, 0xFFFF), acc0);
        acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(q + j + 16), load(c + j + 16, 0xFFFF), acc1);
      }
      for (; j < d; j += 16) {
        __mmask16 m = d - j >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << (d - j)) - 1);
        acc0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, q + j), load(c + j, m), acc0);
      }
    }
    float s = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
    dist[i] = l2 ? s : -s;
  }
}

// Sixteen codes of `bits` bits starting at dimension j (a multiple of 16) as
// floats; `left` < 16 reads only the codes that exist. 8-bit codes widen
// directly; narrower ones spread the 32-bit words holding them over the lanes
// (vidx) and shift each lane's code down (vsh).
inline __m512 codes16(const uint8_t* row, size_t j, size_t left, int bits, __m512i vidx, __m512i vsh, __m512i vm) {
  __mmask16 bytes = left >= 16 ? static_cast<__mmask16>((1u << (2 * bits)) - 1)
                               : static_cast<__mmask16>((1u << ((left * bits + 7) / 8)) - 1);
  __m128i raw = _mm_maskz_loadu_epi8(bytes, row + j * bits / 8);
  if (bits == 8) return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(raw));
  __m512i v = _mm512_permutexvar_epi32(vidx, _mm512_castsi128_si512(raw));
  return _mm512_cvtepi32_ps(_mm512_and_si512(_mm512_srlv_epi32(v, vsh), vm));
}

void scan_sq(const uint8_t* codes, size_t n, size_t d, int bits, const float* a, const float* w, bool l2,
             float* dist) {
  const size_t row = (d * bits + 7) / 8;
  alignas(64) int32_t idx[16], sh[16];
  for (int l = 0; l < 16; ++l) {
    idx[l] = l * bits / 32;
    sh[l] = l * bits % 32;
  }
  const __m512i vidx = _mm512_load_si512(idx), vsh = _mm512_load_si512(sh);
  const __m512i vm = _mm512_set1_epi32((1 << bits) - 1);
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* c = codes + i * row;
    // two accumulators hide the FMA latency
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    size_t j = 0;
    for (; j + 32 <= d; j += 32) {
      __m512 u0 = codes16(c, j, 16, bits, vidx, vsh, vm), u1 = codes16(c, j + 16, 16, bits, vidx, vsh, vm);
      if (l2) {
        __m512 t0 = _mm512_fnmadd_ps(_mm512_loadu_ps(w + j), u0, _mm512_loadu_ps(a + j));
        __m512 t1 = _mm512_fnmadd_ps(_mm512_loadu_ps(w + j + 16), u1, _mm512_loadu_ps(a + j + 16));
        acc0 = _mm512_fmadd_ps(t0, t0, acc0);
        acc1 = _mm512_fmadd_ps(t1, t1, acc1);
      } else {
        acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(w + j), u0, acc0);
        acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(w + j + 16), u1, acc1);
      }
    }
    for (; j < d; j += 16) {
      size_t left = d - j < 16 ? d - j : 16;
      __mmask16 lanes = static_cast<__mmask16>((1u << left) - 1);
      __m512 u = codes16(c, j, left, bits, vidx, vsh, vm);
      __m512 wv = _mm512_maskz_loadu_ps(lanes, w + j);
      if (l2) {
        __m512 t = _mm512_fnmadd_ps(wv, u, _mm512_maskz_loadu_ps(lanes, a + j));
        acc0 = _mm512_fmadd_ps(t, t, acc0);
      } else {
        acc0 = _mm512_fmadd_ps(wv, u, acc0);
      }
    }
    float s = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
    dist[i] = l2 ? s : -s;
  }
}

void rabitq_dots(const uint8_t* codes, size_t n, size_t stride, size_t words, int cbits, const uint64_t* q,
                 int qbits, uint64_t* dot, uint64_t* sum) {
  // When a chunk's dot product fits 32 bits, the code sum rides in the upper
  // half of the same lanes and one horizontal add serves both.
  const bool fused = ((uint64_t{1} << cbits) - 1) * ((uint64_t{1} << qbits) - 1) * 512 < (uint64_t{1} << 32);
  std::fill(dot, dot + n, 0);
  std::fill(sum, sum + n, 0);
  // Chunks of 8 words (512 dimensions) outside, so that the query planes of a
  // chunk stay in registers while all vectors pass.
  for (size_t w = 0; w < words; w += 8) {
    const __mmask8 m = words - w >= 8 ? 0xFF : static_cast<__mmask8>((1u << (words - w)) - 1);
    __m512i qv[8];
    for (int k = 0; k < qbits; ++k) qv[k] = _mm512_maskz_loadu_epi64(m, q + k * words + w);
    for (size_t i = 0; i < n; ++i) {
      const uint8_t* row = codes + i * stride + w * 8;
      __m512i dt = _mm512_setzero_si512(), sm = _mm512_setzero_si512();
      for (int b = 0; b < cbits; ++b) {
        __m512i c = _mm512_maskz_loadu_epi64(m, row + b * words * 8);
        sm = _mm512_add_epi64(sm, _mm512_slli_epi64(_mm512_popcnt_epi64(c), static_cast<unsigned>(b)));
        __m512i acc = _mm512_setzero_si512();
        for (int k = qbits - 1; k >= 0; --k)  // Horner over the query planes: acc = 2·acc + count
          acc = _mm512_add_epi64(_mm512_add_epi64(acc, acc), _mm512_popcnt_epi64(_mm512_and_si512(c, qv[k])));
        dt = _mm512_add_epi64(dt, _mm512_slli_epi64(acc, static_cast<unsigned>(b)));
      }
      if (fused) {
        auto both = static_cast<uint64_t>(_mm512_reduce_add_epi64(_mm512_add_epi64(dt, _mm512_slli_epi64(sm, 32))));
        dot[i] += both & 0xFFFFFFFFu;
        sum[i] += both >> 32;
      } else {
        dot[i] += static_cast<uint64_t>(_mm512_reduce_add_epi64(dt));
        sum[i] += static_cast<uint64_t>(_mm512_reduce_add_epi64(sm));
      }
    }
  }
}

}  // namespace

const QuantizeKernels table = {scan_half<load_f16>, scan_half<load_bf16>, scan_sq, rabitq_dots};

}  // namespace pith::kernels_avx512
