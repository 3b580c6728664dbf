// AVX2 decoding of 8-lane rANS streams: one 32-bit state per vector lane, the
// decode table looked up with a gather, refills taken from the shared word stream
// in lane order with a permutation indexed by the refill mask.
#include <immintrin.h>

#include <array>
#include <cstring>

#include "entropy/rans.h"

namespace pith::rans {

namespace {

// For refill mask m, lane j takes word popcount(m & ((1 << j) - 1)).
struct RefillPerm {
  alignas(32) std::array<std::array<int32_t, 8>, 256> idx;
  constexpr RefillPerm() : idx() {
    for (int m = 0; m < 256; ++m) {
      int k = 0;
      for (int j = 0; j < 8; ++j) {
        idx[m][j] = k;
        k += (m >> j) & 1;
      }
    }
  }
};
constexpr RefillPerm kPerm;

// The encoder's inverse: for flush mask m, the flushing lanes in increasing order
// go to the top popcount(m) of 8 positions (the block is stored below the words
// already written, so its lowest words are the ones overwritten next).
struct FlushPerm {
  alignas(32) std::array<std::array<int32_t, 8>, 256> idx;
  constexpr FlushPerm() : idx() {
    for (int m = 0; m < 256; ++m) {
      int k = 8 - __builtin_popcount(m);
      for (int j = 0; j < 8; ++j)
        if ((m >> j) & 1) idx[m][k++] = j;
    }
  }
};
constexpr FlushPerm kFlushPerm;

// How the next context is found from a decoded symbol.
enum class CtxMode {
  One,        // a single context
  Threshold,  // sym_to_ctx is non-decreasing: ctx = number of boundaries <= symbol
  Gather,     // anything else: look it up
};

// V vectors of 8 lanes; several independent vectors keep the gathers' latency
// hidden. Symbols are collected for 4 groups and stored 4 bytes per lane.
template <int V, CtxMode M>
bool decode_vectors(const LaneJob& job) {
  LaneCursor c = lane_start(job);
  const size_t seg = job.n / (8 * V), wc = job.word_count, stride = job.lane_stride;
  const int sb = job.scale_bits;
  alignas(32) uint32_t ctx_base[256];  // symbol -> offset of the context table it selects
  for (int s = 0; s < 256; ++s) ctx_base[s] = static_cast<uint32_t>(job.sym_to_ctx[s]) << sb;
  __m256i bounds[kMaxContexts];  // Threshold: boundary k - 1, minus one, for contexts k >= 1
  int nb = 0;
  if constexpr (M == CtxMode::Threshold) {
    for (int k = 1; k < kMaxContexts; ++k) {
      int b = 0;
      while (b < 256 && job.sym_to_ctx[b] < k) ++b;
      if (b < 256) bounds[nb++] = _mm256_set1_epi32(b - 1);
    }
  }
  __m256i x[V], base[V];
  for (int v = 0; v < V; ++v) {
    x[v] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c.x + 8 * v));
    base[v] = _mm256_setzero_si256();
  }
  const __m256i mask = _mm256_set1_epi32((1 << sb) - 1), low12 = _mm256_set1_epi32(0xfff);
  const __m256i one = _mm256_set1_epi32(1), state_low = _mm256_set1_epi32(static_cast<int>(kStateLow));
  const __m256i ones = _mm256_set1_epi32(-1);
  const __m128i shift = _mm_cvtsi32_si128(sb);
  const int* tables = reinterpret_cast<const int*>(job.tables);
  size_t pos = 0, g = 0;
  // Every group reads at most 8 V words; the scalar code takes over near the end.
  for (; g + 4 <= seg && pos + 32 * V <= wc; g += 4) {
    __m256i acc[V];
    for (int q = 0; q < 4; ++q) {
      __m256i sym[V];
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) {
        __m256i idx = _mm256_add_epi32(base[v], _mm256_and_si256(x[v], mask));
        __m256i e = _mm256_i32gather_epi32(tables, idx, 4);
        sym[v] = _mm256_srli_epi32(e, 24);
        __m256i freq = _mm256_add_epi32(_mm256_and_si256(e, low12), one);
        __m256i off = _mm256_and_si256(_mm256_srli_epi32(e, 12), low12);
        x[v] = _mm256_add_epi32(_mm256_mullo_epi32(freq, _mm256_srl_epi32(x[v], shift)), off);
        acc[v] = q ? _mm256_or_si256(acc[v], _mm256_slli_epi32(sym[v], 8 * q)) : sym[v];
      }
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) {  // refills in lane order
        // x < 2^16, unsigned: max(x, 2^16) != x.
        __m256i need = _mm256_xor_si256(_mm256_cmpeq_epi32(_mm256_max_epu32(x[v], state_low), x[v]), ones);
        int m = _mm256_movemask_ps(_mm256_castsi256_ps(need));
        __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(job.words + 2 * pos)));
        w = _mm256_permutevar8x32_epi32(w, _mm256_load_si256(reinterpret_cast<const __m256i*>(kPerm.idx[m].data())));
        x[v] = _mm256_blendv_epi8(x[v], _mm256_or_si256(_mm256_slli_epi32(x[v], 16), w), need);
        pos += __builtin_popcount(m);
      }
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) {
        if constexpr (M == CtxMode::Gather) {
          base[v] = _mm256_i32gather_epi32(reinterpret_cast<const int*>(ctx_base), sym[v], 4);
        } else if constexpr (M == CtxMode::Threshold) {
          __m256i minus_ctx = _mm256_setzero_si256();  // each passed boundary adds -1
          for (int k = 0; k < nb; ++k) minus_ctx = _mm256_add_epi32(minus_ctx, _mm256_cmpgt_epi32(sym[v], bounds[k]));
          base[v] = _mm256_sll_epi32(_mm256_sub_epi32(_mm256_setzero_si256(), minus_ctx), shift);
        }
      }
    }
    for (int v = 0; v < V; ++v) {
      alignas(32) uint32_t four[8];
      _mm256_store_si256(reinterpret_cast<__m256i*>(four), acc[v]);
      for (int j = 0; j < 8; ++j) std::memcpy(job.out + (8 * v + j) * stride + g, &four[j], 4);
    }
  }
  for (int v = 0; v < V; ++v) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(c.x + 8 * v), x[v]);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(c.base + 8 * v), base[v]);
  }
  c.pos = pos;
  c.group = g;
  return decode_lanes_finish(job, c);
}

template <int V>
bool decode_mode(const LaneJob& job) {
  bool one = true, monotone = true;
  for (int s = 0; s < 256; ++s) {
    one &= job.sym_to_ctx[s] == 0;
    if (s) monotone &= job.sym_to_ctx[s] >= job.sym_to_ctx[s - 1];
  }
  if (one) return decode_vectors<V, CtxMode::One>(job);
  if (monotone) return decode_vectors<V, CtxMode::Threshold>(job);
  return decode_vectors<V, CtxMode::Gather>(job);
}

// V vectors of 8 lanes. q = x / f is exact in double precision: x < 2^32, and
// x / f is either an integer or at least 1/f >= 2^-12 away from one, far more than
// the rounding error of a quotient below 2^32.
template <int V>
void encode_vectors(EncJob& job) {
  const int sb = job.scale_bits;
  const __m128i shift = _mm_cvtsi32_si128(32 - sb);
  const __m256i fmask = _mm256_set1_epi32(0x1fff), one = _mm256_set1_epi32(1), low16 = _mm256_set1_epi32(0xffff);
  const __m256i M = _mm256_set1_epi32(1 << sb), sign = _mm256_set1_epi32(INT32_MIN);
  const __m256d two31 = _mm256_set1_pd(2147483648.0);
  __m256i x[V];
  for (int v = 0; v < V; ++v) x[v] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(job.x + 8 * v));
  const auto* packed = reinterpret_cast<const int*>(job.packed);
  uint16_t* wp = job.wp;
  for (size_t g = job.g_end; g-- > job.g_begin;) {
    const uint16_t* group = job.index + (g - job.g_begin) * 8 * V;
#pragma GCC unroll 4
    for (int v = V - 1; v >= 0; --v) {
      __m256i idx = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(group + 8 * v)));
      __m256i p = _mm256_i32gather_epi32(packed, idx, 4);
      __m256i f = _mm256_and_si256(p, fmask), start = _mm256_srli_epi32(p, 13);
      __m256i xm1 = _mm256_sub_epi32(_mm256_sll_epi32(f, shift), one);
      __m256i keep = _mm256_cmpeq_epi32(_mm256_min_epu32(x[v], xm1), x[v]);  // x <= xm1
      int m = ~_mm256_movemask_ps(_mm256_castsi256_ps(keep)) & 0xff;
      __m256i w = _mm256_permutevar8x32_epi32(_mm256_and_si256(x[v], low16),
                                              _mm256_load_si256(reinterpret_cast<const __m256i*>(kFlushPerm.idx[m].data())));
      w = _mm256_permute4x64_epi64(_mm256_packus_epi32(w, w), 0x08);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(wp - 8), _mm256_castsi256_si128(w));
      wp -= __builtin_popcount(m);
      __m256i xs = _mm256_blendv_epi8(_mm256_srli_epi32(x[v], 16), x[v], keep);
      // Unsigned 32-bit to double: flip the sign bit, convert signed, add 2^31 back.
      __m256i xf = _mm256_xor_si256(xs, sign);
      __m256d xlo = _mm256_add_pd(_mm256_cvtepi32_pd(_mm256_castsi256_si128(xf)), two31);
      __m256d xhi = _mm256_add_pd(_mm256_cvtepi32_pd(_mm256_extracti128_si256(xf, 1)), two31);
      __m256d qlo = _mm256_div_pd(xlo, _mm256_cvtepi32_pd(_mm256_castsi256_si128(f)));
      __m256d qhi = _mm256_div_pd(xhi, _mm256_cvtepi32_pd(_mm256_extracti128_si256(f, 1)));
      __m256i q = _mm256_set_m128i(_mm256_cvttpd_epi32(qhi), _mm256_cvttpd_epi32(qlo));  // truncation = floor here
      x[v] = _mm256_add_epi32(_mm256_add_epi32(xs, start), _mm256_mullo_epi32(q, _mm256_sub_epi32(M, f)));
    }
  }
  for (int v = 0; v < V; ++v) _mm256_storeu_si256(reinterpret_cast<__m256i*>(job.x + 8 * v), x[v]);
  job.wp = wp;
}

}  // namespace

void encode_groups_avx2(EncJob& job) { job.lanes == 32 ? encode_vectors<4>(job) : encode_vectors<1>(job); }

bool decode_lanes_avx2(const LaneJob& job) { return job.lanes == 32 ? decode_mode<4>(job) : decode_mode<1>(job); }

}  // namespace pith::rans
