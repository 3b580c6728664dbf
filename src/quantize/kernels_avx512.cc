// AVX-512 (F, BW, VL, VPOPCNTDQ) kernels. Tails use masked loads, so every
// dimension goes through the same vector code.
// GCC 12's AVX-512 headers trip -Wmaybe-uninitialized on their own
// _mm512_undefined_* placeholders (GCC bug 105593, fixed in GCC 13).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

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

// One register holds the same word of the 8 vectors of a block, so every lane
// accumulates its own vector and no horizontal sums are needed.
void rabitq_dots(const uint8_t* codes, size_t nblocks, size_t block_bytes, size_t words, int cbits,
                 const uint64_t* q, int qbits, uint64_t* dot, uint64_t* sum) {
  for (size_t k = 0; k < nblocks; ++k) {
    const uint8_t* blk = codes + k * block_bytes;
    __m512i dt = _mm512_setzero_si512(), sm = _mm512_setzero_si512();
    for (int b = 0; b < cbits; ++b) {
      __m512i pdt = _mm512_setzero_si512(), psm = _mm512_setzero_si512();
      for (size_t w = 0; w < words; ++w) {
        __m512i c = _mm512_loadu_si512(blk + (b * words + w) * 64);
        psm = _mm512_add_epi64(psm, _mm512_popcnt_epi64(c));
        __m512i acc = _mm512_setzero_si512();
        for (int j = qbits - 1; j >= 0; --j) {  // Horner over the query planes: acc = 2·acc + count
          __m512i qj = _mm512_set1_epi64(static_cast<long long>(q[j * words + w]));
          acc = _mm512_add_epi64(_mm512_add_epi64(acc, acc), _mm512_popcnt_epi64(_mm512_and_si512(c, qj)));
        }
        pdt = _mm512_add_epi64(pdt, acc);
      }
      dt = _mm512_add_epi64(dt, _mm512_slli_epi64(pdt, static_cast<unsigned>(b)));
      sm = _mm512_add_epi64(sm, _mm512_slli_epi64(psm, static_cast<unsigned>(b)));
    }
    _mm512_storeu_si512(dot + k * 8, dt);
    _mm512_storeu_si512(sum + k * 8, sm);
  }
}

}  // namespace

const QuantizeKernels table = {scan_half<load_f16>, scan_half<load_bf16>, scan_sq, rabitq_dots};

}  // namespace pith::kernels_avx512
