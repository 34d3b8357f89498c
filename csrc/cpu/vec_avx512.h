// AVX-512 (F + DQ) lane packs: 16 floats or 8 doubles in a 512-bit register.
#pragma once
#include "simd_ops.h"

namespace pygd::cpu::avx512 {

// Ordered comparisons (false where either side is NaN), as the scalar lane's, into a bit mask, and
// the select they feed. The mask is wrapped so that overloads cannot mistake it for an integer.
#define PYGD_AVX512_COMPARE(SUF, BITS)                                                               \
  struct Mask {                                                                                      \
    BITS bits;                                                                                       \
  };                                                                                                 \
  friend PYGD_INLINE Mask operator>(Vec a, Vec b) { return {_mm512_cmp_##SUF##_mask(a.r, b.r, _CMP_GT_OQ)}; } \
  friend PYGD_INLINE Mask operator<(Vec a, Vec b) { return {_mm512_cmp_##SUF##_mask(a.r, b.r, _CMP_LT_OQ)}; } \
  friend PYGD_INLINE Mask operator==(Vec a, Vec b) { return {_mm512_cmp_##SUF##_mask(a.r, b.r, _CMP_EQ_OQ)}; } \
  friend PYGD_INLINE Vec select(Mask m, Vec a, Vec b) { return _mm512_mask_blend_##SUF(m.bits, b.r, a.r); }

template <class T>
struct Vec;

template <>
struct Vec<float> {
  PYGD_SIMD_OPS(float, __m512, _mm512, ps, 16)
  // _mm512_max_ps returns its second operand when either is NaN; blend a NaN first operand back in.
  friend PYGD_INLINE Vec max(Vec a, Vec b) {
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a.r, a.r, _CMP_UNORD_Q), _mm512_max_ps(a.r, b.r), a.r);
  }
  PYGD_AVX512_COMPARE(ps, __mmask16)
};

template <>
struct Vec<double> {
  PYGD_SIMD_OPS(double, __m512d, _mm512, pd, 8)
  // 8 floats or 8 doubles as 8 doubles (the norms accumulate in double).
  static PYGD_INLINE Vec load_widened(const float* p) { return _mm512_cvtps_pd(_mm256_loadu_ps(p)); }
  static PYGD_INLINE Vec load_widened(const double* p) { return load(p); }
  friend PYGD_INLINE Vec max(Vec a, Vec b) {
    return _mm512_mask_blend_pd(_mm512_cmp_pd_mask(a.r, a.r, _CMP_UNORD_Q), _mm512_max_pd(a.r, b.r), a.r);
  }
  PYGD_AVX512_COMPARE(pd, __mmask8)
};

#undef PYGD_AVX512_COMPARE

}  // namespace pygd::cpu::avx512
