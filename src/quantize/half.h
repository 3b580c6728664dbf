#pragma once
// float <-> IEEE half and bfloat16, round to nearest even (scalar; the scan
// kernels convert with F16C / AVX-512 instead).
#include <cstdint>
#include <cstring>

namespace pith {

inline uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float bits_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

inline uint16_t float_to_bf16(float f) {
  uint32_t u = float_bits(f);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((u >> 16) | 0x40);  // NaN stays NaN
  return static_cast<uint16_t>((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}
inline float bf16_to_float(uint16_t h) { return bits_float(static_cast<uint32_t>(h) << 16); }

inline uint16_t float_to_f16(float f) {
  uint32_t u = float_bits(f);
  uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  uint32_t a = u & 0x7FFFFFFFu;
  if (a > 0x7F800000u) return sign | 0x7E00;                 // NaN
  if (a >= 0x477FF000u) return sign | 0x7C00;                // rounds to >= 65520: inf
  if (a < 0x38800000u) {                                     // below 2^-14: subnormal or zero
    if (a < 0x33000000u) return sign;                        // below half the smallest subnormal
    uint32_t mant = (a & 0x7FFFFFu) | 0x800000u;
    int shift = 126 - static_cast<int>(a >> 23);             // 14..24 extra bits to drop
    uint32_t v = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (v & 1u))) ++v;
    return sign | static_cast<uint16_t>(v);
  }
  uint32_t v = ((a >> 13) - (112u << 10));                   // rebias exponent 127 -> 15
  uint32_t rem = a & 0x1FFFu;
  if (rem > 0x1000u || (rem == 0x1000u && (v & 1u))) ++v;   // may carry into the exponent: fine
  return sign | static_cast<uint16_t>(v);
}

inline float f16_to_float(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t e = (h >> 10) & 0x1Fu, m = h & 0x3FFu;
  if (e == 0x1F) return bits_float(sign | 0x7F800000u | (m << 13));
  if (e == 0) {
    if (m == 0) return bits_float(sign);
    return (sign ? -1.f : 1.f) * static_cast<float>(m) * 0x1.0p-24f;
  }
  return bits_float(sign | ((e + 112u) << 23) | (m << 13));
}

}  // namespace pith
