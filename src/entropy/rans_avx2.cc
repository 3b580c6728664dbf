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

// V vectors of 8 lanes; several independent vectors keep the gathers' latency hidden.
template <int V>
bool decode_vectors(const LaneJob& job) {
  LaneCursor c = lane_start(job);
  const size_t seg = job.n / (8 * V), wc = job.word_count, stride = job.lane_stride;
  const int sb = job.scale_bits;
  alignas(32) uint32_t ctx_base[256];  // symbol -> offset of the context table it selects
  bool one_context = true;
  for (int s = 0; s < 256; ++s) {
    ctx_base[s] = static_cast<uint32_t>(job.sym_to_ctx[s]) << sb;
    one_context &= ctx_base[s] == 0;
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
  // Low byte of every 32-bit lane to the bottom of its 128-bit half.
  const __m256i pack = _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,  //
                                        0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
  const int* tables = reinterpret_cast<const int*>(job.tables);
  size_t pos = 0, g = 0;
  // Every group reads at most 8 V words; the scalar code takes over near the end.
  for (; g < seg && pos + 8 * V <= wc; ++g) {
    __m256i sym[V];
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) {
      __m256i idx = _mm256_add_epi32(base[v], _mm256_and_si256(x[v], mask));
      __m256i e = _mm256_i32gather_epi32(tables, idx, 4);
      sym[v] = _mm256_srli_epi32(e, 24);
      __m256i freq = _mm256_add_epi32(_mm256_and_si256(e, low12), one);
      __m256i off = _mm256_and_si256(_mm256_srli_epi32(e, 12), low12);
      x[v] = _mm256_add_epi32(_mm256_mullo_epi32(freq, _mm256_srl_epi32(x[v], shift)), off);
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
      if (!one_context) base[v] = _mm256_i32gather_epi32(reinterpret_cast<const int*>(ctx_base), sym[v], 4);
      __m256i packed = _mm256_shuffle_epi8(sym[v], pack);
      uint64_t syms = static_cast<uint32_t>(_mm256_extract_epi32(packed, 0)) |
                      static_cast<uint64_t>(static_cast<uint32_t>(_mm256_extract_epi32(packed, 4))) << 32;
      uint8_t* out = job.out + 8 * v * stride + g;
      for (int j = 0; j < 8; ++j) out[j * stride] = static_cast<uint8_t>(syms >> (8 * j));
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

}  // namespace

bool decode_lanes_avx2(const LaneJob& job) { return job.lanes == 32 ? decode_vectors<4>(job) : decode_vectors<1>(job); }

}  // namespace pith::rans
