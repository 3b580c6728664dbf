#include "quantize/kernels.h"

#include <cstring>

#include "quantize/half.h"

namespace pith {

namespace {

template <float (*conv)(uint16_t)>
void scan_half(const uint16_t* codes, size_t n, size_t d, const float* q, bool l2, float* dist) {
  for (size_t i = 0; i < n; ++i) {
    const uint16_t* c = codes + i * d;
    float s = 0;
    for (size_t j = 0; j < d; ++j) {
      float x = conv(c[j]);
      s += l2 ? (q[j] - x) * (q[j] - x) : q[j] * x;
    }
    dist[i] = l2 ? s : -s;
  }
}

void scan_sq(const uint8_t* codes, size_t n, size_t d, int bits, const float* a, const float* w, bool l2,
             float* dist) {
  const size_t row = (d * bits + 7) / 8;
  const unsigned mask = (1u << bits) - 1;
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* c = codes + i * row;
    float s = 0;
    for (size_t j = 0; j < d; ++j) {
      size_t bit = j * bits;
      float u = static_cast<float>((c[bit / 8] >> (bit % 8)) & mask);
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
  for (size_t k = 0; k < nblocks; ++k)
    for (size_t v = 0; v < 8; ++v) {
      uint64_t dt = 0, sm = 0;
      for (int b = 0; b < cbits; ++b)
        for (size_t w = 0; w < words; ++w) {
          uint64_t c;
          std::memcpy(&c, codes + k * block_bytes + ((b * words + w) * 8 + v) * 8, 8);
          sm += static_cast<uint64_t>(__builtin_popcountll(c)) << b;
          for (int j = 0; j < qbits; ++j)
            dt += static_cast<uint64_t>(__builtin_popcountll(c & q[j * words + w])) << (b + j);
        }
      dot[k * 8 + v] = dt;
      sum[k * 8 + v] = sm;
    }
}

const QuantizeKernels scalar_table = {scan_half<f16_to_float>, scan_half<bf16_to_float>, scan_sq, rabitq_dots};

}  // namespace

const QuantizeKernels& quantize_kernels(SimdLevel level) {
  switch (level) {
    case SimdLevel::AVX512: return kernels_avx512::table;
    case SimdLevel::AVX2: return kernels_avx2::table;
    default: return scalar_table;
  }
}

}  // namespace pith
