#include "common/cpu.h"

#include <cstdlib>
#include <cstring>

namespace pith {

namespace {
SimdLevel detect() {
  __builtin_cpu_init();
  SimdLevel l = SimdLevel::Scalar;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi2"))
    l = SimdLevel::AVX2;
  if (l == SimdLevel::AVX2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512vpopcntdq"))
    l = SimdLevel::AVX512;
  if (const char* e = std::getenv("PITH_SIMD")) {
    SimdLevel cap = l;
    if (!std::strcmp(e, "scalar")) cap = SimdLevel::Scalar;
    else if (!std::strcmp(e, "avx2")) cap = SimdLevel::AVX2;
    if (cap < l) l = cap;
  }
  return l;
}
}  // namespace

SimdLevel simd_level() {
  static const SimdLevel l = detect();
  return l;
}

const char* simd_name(SimdLevel l) {
  switch (l) {
    case SimdLevel::AVX512: return "avx512";
    case SimdLevel::AVX2: return "avx2";
    default: return "scalar";
  }
}

}  // namespace pith
