#include "quantize/pq_kernels.h"

#include <cmath>
#include <limits>

namespace pith {

namespace {

void scan8_scalar(const float* lut, size_t m, const uint8_t* codes, size_t n, float* dist) {
  size_t i = 0;
  // Four vectors at a time: four independent add chains hide the load latency.
  for (; i + 4 <= n; i += 4) {
    const uint8_t* c = codes + i * m;
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (size_t j = 0; j < m; ++j) {
      const float* t = lut + j * 256;
      s0 += t[c[j]];
      s1 += t[c[m + j]];
      s2 += t[c[2 * m + j]];
      s3 += t[c[3 * m + j]];
    }
    dist[i] = s0;
    dist[i + 1] = s1;
    dist[i + 2] = s2;
    dist[i + 3] = s3;
  }
  for (; i < n; ++i) {
    const uint8_t* c = codes + i * m;
    float s = 0;
    for (size_t j = 0; j < m; ++j) s += lut[j * 256 + c[j]];
    dist[i] = s;
  }
}

void scan4fs_scalar(const uint8_t* codes, size_t nblocks, size_t npairs, const uint8_t* lut, float scale,
                    float bias, float* dist) {
  for (size_t b = 0; b < nblocks; ++b) {
    const uint8_t* blk = codes + b * npairs * kFsBlock;
    for (size_t v = 0; v < kFsBlock; ++v) {
      size_t pos = fs_byte_of(v);
      uint32_t sum = 0;
      for (size_t p = 0; p < npairs; ++p) {
        uint8_t c = blk[p * kFsBlock + pos];
        sum += lut[fs_lut_offset(2 * p, c & 15)] + lut[fs_lut_offset(2 * p + 1, c >> 4)];
      }
      // fma, like the SIMD kernels: one rounding, so every level gives the same bits.
      dist[b * kFsBlock + v] = std::fma(static_cast<float>(sum), scale, bias);
    }
  }
}

void scan4fs_le_scalar(const uint8_t* codes, size_t nblocks, size_t npairs, const uint8_t* const* luts, size_t nq,
                       const uint16_t* thr, const float* scale, const float* bias, uint32_t* idx, float* dist,
                       size_t* cnt) {
  const size_t stride = nblocks * kFsBlock;
  for (size_t q = 0; q < nq; ++q) {
    const uint8_t* lut = luts[q];
    size_t c = 0;
    for (size_t i = 0; i < stride; ++i) {
      const uint8_t* blk = codes + i / kFsBlock * npairs * kFsBlock;
      size_t pos = fs_byte_of(i % kFsBlock);
      uint32_t sum = 0;
      for (size_t p = 0; p < npairs; ++p) {
        uint8_t b = blk[p * kFsBlock + pos];
        sum += lut[fs_lut_offset(2 * p, b & 15)] + lut[fs_lut_offset(2 * p + 1, b >> 4)];
      }
      if (sum <= thr[q]) {
        idx[q * stride + c] = static_cast<uint32_t>(i);
        dist[q * stride + c] = std::fma(static_cast<float>(sum), scale[q], bias[q]);
        ++c;
      }
    }
    cnt[q] = c;
  }
}

void nearest_scalar(const float* dots, size_t rows, size_t k, const float* cnorm, uint32_t* out, float* best) {
  for (size_t r = 0; r < rows; ++r) {
    const float* dr = dots + r * k;
    float b = std::numeric_limits<float>::infinity();
    uint32_t arg = 0;
    for (size_t j = 0; j < k; ++j) {
      float v = cnorm[j] - 2 * dr[j];
      if (v < b) {
        b = v;
        arg = static_cast<uint32_t>(j);
      }
    }
    out[r] = arg;
    best[r] = b;
  }
}

}  // namespace

namespace pq_kernels_scalar {
const PqKernels table{scan8_scalar, scan4fs_scalar, scan4fs_le_scalar, nearest_scalar};
}

const PqKernels& pq_kernels(SimdLevel level) {
  switch (level) {
    case SimdLevel::AVX512: return pq_kernels_avx512::table;
    case SimdLevel::AVX2: return pq_kernels_avx2::table;
    default: return pq_kernels_scalar::table;
  }
}

}  // namespace pith
