#include "search/select_kernels.h"

namespace pith {

size_t filter_le_scalar(const float* dist, size_t n, float thr, uint32_t* idx) {
  size_t c = 0;
  for (size_t i = 0; i < n; ++i)
    if (dist[i] <= thr) idx[c++] = uint32_t(i);
  return c;
}

FilterLeFn filter_le_kernel(SimdLevel level) {
  switch (level) {
    case SimdLevel::AVX512: return filter_le_avx512;
    case SimdLevel::AVX2: return filter_le_avx2;
    default: return filter_le_scalar;
  }
}

}  // namespace pith
