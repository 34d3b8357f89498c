// AVX2 + FMA lane packs: 8 floats or 4 doubles in a 256-bit register.
#pragma once
#include "simd_ops.h"

namespace pygd::cpu::avx2 {

template <class T>
struct Vec;

template <>
struct Vec<float> {
  PYGD_SIMD_OPS(float, __m256, _mm256, ps, 8)
  // _mm256_max_ps returns its second operand when either is NaN; blend a NaN first operand back in.
  friend PYGD_INLINE Vec max(Vec a, Vec b) {
    return _mm256_blendv_ps(_mm256_max_ps(a.r, b.r), a.r, _mm256_cmp_ps(a.r, a.r, _CMP_UNORD_Q));
  }
};

template <>
struct Vec<double> {
  PYGD_SIMD_OPS(double, __m256d, _mm256, pd, 4)
  // 4 floats or 4 doubles as 4 doubles (the norms accumulate in double).
  static PYGD_INLINE Vec load_widened(const float* p) { return _mm256_cvtps_pd(_mm_loadu_ps(p)); }
  static PYGD_INLINE Vec load_widened(const double* p) { return load(p); }
  friend PYGD_INLINE Vec max(Vec a, Vec b) {
    return _mm256_blendv_pd(_mm256_max_pd(a.r, b.r), a.r, _mm256_cmp_pd(a.r, a.r, _CMP_UNORD_Q));
  }
};

}  // namespace pygd::cpu::avx2
