#pragma once
// The filter in front of top-k selection: positions of the distances at or below
// a threshold. Scalar reference (select_kernels.cc) and AVX2 / AVX-512 versions
// with identical results; tests compare them.
#include <cstddef>
#include <cstdint>

#include "common/cpu.h"

namespace pith {

// Writes to idx (room for n) the indices i, ascending, with dist[i] <= thr (NaN
// never qualifies) and returns their count.
using FilterLeFn = size_t (*)(const float* dist, size_t n, float thr, uint32_t* idx);

FilterLeFn filter_le_kernel(SimdLevel level);
inline FilterLeFn filter_le_kernel() {
  static const FilterLeFn f = filter_le_kernel(simd_level());
  return f;
}

size_t filter_le_scalar(const float* dist, size_t n, float thr, uint32_t* idx);
size_t filter_le_avx2(const float* dist, size_t n, float thr, uint32_t* idx);
size_t filter_le_avx512(const float* dist, size_t n, float thr, uint32_t* idx);

}  // namespace pith
