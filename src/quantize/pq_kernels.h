#pragma once
// Kernels of the product quantizers and their k-means. Each exists as a scalar reference
// (pq_kernels.cc) and AVX2 / AVX-512 versions (pq_kernels_avx2.cc,
// pq_kernels_avx512.cc) with identical results; pq_kernels() picks by
// simd_level() and tests compare every level with the scalar one.
#include <cstddef>
#include <cstdint>

#include "common/cpu.h"

namespace pith {

// "Fast scan" storage of 4-bit PQ codes: blocks of 32 vectors. A block holds
// npairs = ceil(M/2) groups of 32 bytes, group p for sub-quantizers 2p (low
// nibble) and 2p+1 (high nibble). Byte 2i of a group belongs to vector i of the
// block and byte 2i+1 to vector 16+i, so that the even and odd bytes of a
// register, widened to 16 bits, come out as vectors 0–15 and 16–31 in order.
constexpr size_t kFsBlock = 32;
inline size_t fs_byte_of(size_t v) { return v < 16 ? 2 * v : 2 * (v - 16) + 1; }

// Lookup tables of a fast-scan query: uint8 distances of the 16 centroids of each
// sub-quantizer, laid out for in-register lookups. Pairs 2g and 2g+1 share 128
// bytes: [lo(2g) lo(2g+1) hi(2g) hi(2g+1)], each a 16-byte table stored twice
// (once per 128-bit lane), lo(p)/hi(p) being the tables of sub-quantizers 2p and
// 2p+1. Missing sub-quantizers (odd M, odd pair count) have all-zero tables.
inline size_t fs_lut_bytes(size_t npairs) { return (npairs + 1) / 2 * 128; }
inline size_t fs_lut_offset(size_t subq, size_t centroid) {
  size_t p = subq / 2;
  return p / 2 * 128 + (subq % 2) * 64 + (p % 2) * 32 + centroid;
}

// Queries a thresholded fast scan serves in one pass over the codes.
constexpr size_t kFsMaxQueries = 8;

struct PqKernels {
  // 8-bit PQ: dist[i] = Σ_j lut[j·256 + codes[i·m + j]], added in order of j.
  void (*scan8)(const float* lut, size_t m, const uint8_t* codes, size_t n, float* dist);
  // Fast scan of nblocks blocks: dist[i] = fma(float(Σ_j lut_j[code_ij]), scale, bias).
  // Table values must be below 128 (the kernels add two lookups in one byte) and
  // the sums below 2^16 (M ≤ 256 does).
  void (*scan4fs)(const uint8_t* codes, size_t nblocks, size_t npairs, const uint8_t* lut, float scale,
                  float bias, float* dist);
  // Thresholded fast scan for top-k selection, 1 ≤ nq ≤ kFsMaxQueries queries in one pass
  // (each code byte is read and split into nibbles once for all of them). For query q
  // (tables luts[q], limits as for scan4fs) the integer sums S_i = Σ_j lut_j[code_ij]
  // of the nblocks·32 vectors are compared with thr[q]: the i with S_i <= thr[q] go,
  // ascending, to idx + q·nblocks·32 and their distances fma(float(S_i), scale[q],
  // bias[q]) to dist + q·nblocks·32, their number to cnt[q]. Comparing integers skips
  // the conversion of the sums that top-k selection would reject anyway.
  void (*scan4fs_le)(const uint8_t* codes, size_t nblocks, size_t npairs, const uint8_t* const* luts, size_t nq,
                     const uint16_t* thr, const float* scale, const float* bias, uint32_t* idx, float* dist,
                     size_t* cnt);
  // k-means assignment of `rows` points from their dot products with k centroids
  // (row-major rows × k): out[r] = the first j minimising cnorm[j] − 2·dots[r·k + j],
  // best[r] = that minimum (+inf when no value compares below it).
  void (*nearest)(const float* dots, size_t rows, size_t k, const float* cnorm, uint32_t* out, float* best);
};

const PqKernels& pq_kernels(SimdLevel level);
inline const PqKernels& pq_kernels() { return pq_kernels(simd_level()); }

namespace pq_kernels_scalar {
extern const PqKernels table;
}
namespace pq_kernels_avx2 {
extern const PqKernels table;
}
namespace pq_kernels_avx512 {
extern const PqKernels table;
}

}  // namespace pith
