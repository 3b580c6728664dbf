#pragma once
// Run-time choice of SIMD kernels. PITH_SIMD=scalar|avx2|avx512 in the environment
// caps the level (tests use it to compare every kernel with the scalar reference).
namespace pith {

enum class SimdLevel { Scalar = 0, AVX2 = 1, AVX512 = 2 };

SimdLevel simd_level();          // what this CPU supports, capped by PITH_SIMD
const char* simd_name(SimdLevel l);

}  // namespace pith
