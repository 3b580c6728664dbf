#pragma once
// Scan kernels of the f16/bf16, scalar-quantization and RaBitQ codecs. Each
// exists as a scalar reference (kernels.cc) and AVX2 / AVX-512 versions
// (kernels_avx2.cc, kernels_avx512.cc); quantize_kernels() picks by
// simd_level() and tests compare every level with the scalar one.
#include <cstddef>
#include <cstdint>

#include "common/cpu.h"

namespace pith {

struct QuantizeKernels {
  // n vectors of d half (or bfloat16) values each, row after row. dist[i] =
  // squared L2 distance to q when l2, else minus the inner product.
  void (*scan_f16)(const uint16_t* codes, size_t n, size_t d, const float* q, bool l2, float* dist);
  void (*scan_bf16)(const uint16_t* codes, size_t n, size_t d, const float* q, bool l2, float* dist);
  // n rows of ceil(d·bits/8) bytes, bits ∈ {2, 4, 8}, dimension j at bit j·bits
  // (little-endian within bytes). With u the codes: l2: dist = Σ (a_j − w_j·u_j)²;
  // otherwise dist = −Σ w_j·u_j.
  void (*scan_sq)(const uint8_t* codes, size_t n, size_t d, int bits, const float* a, const float* w,
                  bool l2, float* dist);
  // RaBitQ bit-plane products over blocks of 8 vectors. Block k starts at
  // codes + k·block_bytes with cbits planes × `words` 64-bit words, each word
  // as 8 consecutive u64 (one per vector of the block); q holds qbits planes of
  // the quantized query, `words` words each. For vector v of block k writes
  // dot[8k+v] = Σ_b Σ_c 2^(b+c)·popcount(code_b & q_c) (= Σ_j u_j·qu_j) and
  // sum[8k+v] = Σ_b 2^b·popcount(code_b) (= Σ_j u_j). qbits ≤ 8.
  void (*rabitq_dots)(const uint8_t* codes, size_t nblocks, size_t block_bytes, size_t words, int cbits,
                      const uint64_t* q, int qbits, uint64_t* dot, uint64_t* sum);
};

const QuantizeKernels& quantize_kernels(SimdLevel level);
inline const QuantizeKernels& quantize_kernels() { return quantize_kernels(simd_level()); }

namespace kernels_avx2 {
extern const QuantizeKernels table;
}
namespace kernels_avx512 {
extern const QuantizeKernels table;
}

}  // namespace pith
