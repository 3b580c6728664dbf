#include <immintrin.h>

#include "search/select_kernels.h"

namespace pith {

size_t filter_le_avx2(const float* dist, size_t n, float thr, uint32_t* idx) {
  const __m256 t = _mm256_set1_ps(thr);
  size_t c = 0, i = 0;
  for (; i + 8 <= n; i += 8) {
    // Ordered compare: NaN gives false, as in the scalar reference.
    unsigned m = unsigned(_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(dist + i), t, _CMP_LE_OQ)));
    while (m) {
      idx[c++] = uint32_t(i + unsigned(__builtin_ctz(m)));
      m &= m - 1;
    }
  }
  for (; i < n; ++i)
    if (dist[i] <= thr) idx[c++] = uint32_t(i);
  return c;
}

}  // namespace pith
