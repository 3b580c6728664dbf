#include <immintrin.h>

#include "search/select_kernels.h"

namespace pith {

size_t filter_le_avx512(const float* dist, size_t n, float thr, uint32_t* idx) {
  const __m512 t = _mm512_set1_ps(thr);
  const __m512i step = _mm512_set1_epi32(16);
  __m512i pos = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  size_t c = 0, i = 0;
  for (; i + 16 <= n; i += 16) {
    // Ordered compare: NaN gives false, as in the scalar reference.
    __mmask16 m = _mm512_cmp_ps_mask(_mm512_loadu_ps(dist + i), t, _CMP_LE_OQ);
    if (m) {
      _mm512_mask_compressstoreu_epi32(idx + c, m, pos);
      c += unsigned(__builtin_popcount(m));
    }
    pos = _mm512_add_epi32(pos, step);
  }
  for (; i < n; ++i)
    if (dist[i] <= thr) idx[c++] = uint32_t(i);
  return c;
}

}  // namespace pith
