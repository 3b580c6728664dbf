// AVX2 + F16C kernels; popcounts use the POPCNT instruction, which every AVX2 CPU has.
#pragma GCC target("popcnt")
#include <immintrin.h>

#include <cstring>

#include "quantize/half.h"
#include "quantize/kernels.h"

namespace pith::kernels_avx2 {

namespace {

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline __m256 load_f16(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
inline __m256 load_bf16(const uint16_t* p) {
  __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}

template <__m256 (*load)(const uint16_t*), float (*conv)(uint16_t)>
void scan_half(const uint16_t* codes, size_t n, size_t d, const float* q, bool l2, float* dist) {
  const size_t d8 = d & ~size_t{7};
  for (size_t i = 0; i < n; ++i) {
    const uint16_t* c = codes + i * d;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    size_t j = 0;
    if (l2) {
      for (; j + 16 <= d8; j += 16) {
        __m256 t0 = _mm256_sub_ps(_mm256_loadu_ps(q + j), load(c + j));
        __m256 t1 = _mm256_sub_ps(_mm256_loadu_ps(q + j + 8), load(c + j + 8));
        acc0 = _mm256_fmadd_ps(t0, t0, acc0);
        acc1 = _mm256_fmadd_ps(t1, t1, acc1);
      }
      for (; j < d8; j += 8) {
        __m256 t = _mm256_sub_ps(_mm256_loadu_ps(q + j), load(c + j));
        acc0 = _mm256_fmadd_ps(t, t, acc0);
      }
    } else {
      for (; j + 16 <= d8; j += 16) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + j), load(c + j), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + j + 8), load(c + j + 8), acc1);
      }
      for (; j < d8; j += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + j), load(c + j), acc0);
    }
    float s = hsum(_mm256_add_ps(acc0, acc1));
    for (; j < d; ++j) {
      float x = conv(c[j]);
      s += l2 ? (q[j] - x) * (q[j] - x) : q[j] * x;
    }
    dist[i] = l2 ? s : -s;
  }
}

// Eight codes of `bits` bits starting at dimension j (a multiple of 8) as floats:
// the 32-bit word holding each lane's code is gathered by a permute, then shifted.
inline __m256 unpack8(const uint8_t* row, size_t j, int bits, __m256i idx, __m256i shift, __m256i mask) {
  uint64_t raw = 0;
  std::memcpy(&raw, row + j * bits / 8, bits);
  __m256i v = _mm256_castsi128_si256(_mm_cvtsi64_si128(static_cast<long long>(raw)));
  v = _mm256_permutevar8x32_epi32(v, idx);
  v = _mm256_and_si256(_mm256_srlv_epi32(v, shift), mask);
  return _mm256_cvtepi32_ps(v);
}

void scan_sq(const uint8_t* codes, size_t n, size_t d, int bits, const float* a, const float* w, bool l2,
             float* dist) {
  const size_t row = (d * bits + 7) / 8, d8 = d & ~size_t{7};
  const unsigned m = (1u << bits) - 1;
  alignas(32) int32_t idx[8], sh[8];
  for (int l = 0; l < 8; ++l) {
    idx[l] = l * bits / 32;
    sh[l] = l * bits % 32;
  }
  const __m256i vidx = _mm256_load_si256(reinterpret_cast<const __m256i*>(idx));
  const __m256i vsh = _mm256_load_si256(reinterpret_cast<const __m256i*>(sh));
  const __m256i vm = _mm256_set1_epi32(static_cast<int>(m));
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* c = codes + i * row;
    __m256 acc = _mm256_setzero_ps();
    for (size_t j = 0; j < d8; j += 8) {
      __m256 u = unpack8(c, j, bits, vidx, vsh, vm);
      if (l2) {
        __m256 t = _mm256_fnmadd_ps(_mm256_loadu_ps(w + j), u, _mm256_loadu_ps(a + j));
        acc = _mm256_fmadd_ps(t, t, acc);
      } else {
        acc = _mm256_fmadd_ps(_mm256_loadu_ps(w + j), u, acc);
      }
    }
    float s = hsum(acc);
    for (size_t j = d8; j < d; ++j) {
      size_t bit = j * bits;
      float u = static_cast<float>((c[bit / 8] >> (bit % 8)) & m);
      if (l2) {
        float t = a[j] - w[j] * u;
        s += t * t;
      } else {
        s += w[j] * u;
      }
    }
    dist[i] = l2 ? s : -s;
  }
}

void rabitq_dots(const uint8_t* codes, size_t nblocks, size_t block_bytes, size_t words, int cbits,
                 const uint64_t* q, int qbits, uint64_t* dot, uint64_t* sum) {
  for (size_t k = 0; k < nblocks; ++k) {
    uint64_t dt[8] = {}, sm[8] = {};
    for (int b = 0; b < cbits; ++b)
      for (size_t w = 0; w < words; ++w) {
        const uint8_t* p = codes + k * block_bytes + (b * words + w) * 64;
        for (size_t v = 0; v < 8; ++v) {
          uint64_t c;
          std::memcpy(&c, p + v * 8, 8);
          uint64_t acc = 0;
          for (int j = qbits - 1; j >= 0; --j) acc = 2 * acc + _mm_popcnt_u64(c & q[j * words + w]);
          dt[v] += acc << b;
          sm[v] += _mm_popcnt_u64(c) << b;
        }
      }
    std::memcpy(dot + k * 8, dt, sizeof dt);
    std::memcpy(sum + k * 8, sm, sizeof sm);
  }
}

}  // namespace

const QuantizeKernels table = {scan_half<load_f16, f16_to_float>, scan_half<load_bf16, bf16_to_float>, scan_sq,
                               rabitq_dots};

}  // namespace pith::kernels_avx2
