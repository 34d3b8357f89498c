// AVX2 + FMA lane packs: 8 floats or 4 doubles in a 256-bit register.
#pragma once
#include "simd_ops.h"

namespace pygd::cpu::avx2 {

// Ordered comparisons (false where either side is NaN), as the scalar lane's, into a Mask of all-ones
// lanes, and the select they feed (blendv picks by each lane's sign bit).
#define PYGD_AVX2_COMPARE(SUF)                                                                       \
  using Mask = Vec;                                                                                  \
  friend PYGD_INLINE Mask operator>(Vec a, Vec b) { return _mm256_cmp_##SUF(a.r, b.r, _CMP_GT_OQ); } \
  friend PYGD_INLINE Mask operator<(Vec a, Vec b) { return _mm256_cmp_##SUF(a.r, b.r, _CMP_LT_OQ); } \
  friend PYGD_INLINE Mask operator==(Vec a, Vec b) { return _mm256_cmp_##SUF(a.r, b.r, _CMP_EQ_OQ); }\
  friend PYGD_INLINE Vec select(Mask m, Vec a, Vec b) { return _mm256_blendv_##SUF(b.r, a.r, m.r); }

template <class T>
struct Vec;

template <>
struct Vec<float> {
  PYGD_SIMD_OPS(float, __m256, _mm256, ps, 8)
  // _mm256_max_ps returns its second operand when either is NaN; blend a NaN first operand back in.
  friend PYGD_INLINE Vec max(Vec a, Vec b) {
    return _mm256_blendv_ps(_mm256_max_ps(a.r, b.r), a.r, _mm256_cmp_ps(a.r, a.r, _CMP_UNORD_Q));
  }
  PYGD_AVX2_COMPARE(ps)
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
  PYGD_AVX2_COMPARE(pd)
};

#undef PYGD_AVX2_COMPARE

}  // namespace pygd::cpu::avx2
