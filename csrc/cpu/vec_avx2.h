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
  // Narrow storage. float16: F16C's VCVTPH2PS / VCVTPS2PH (round to nearest even, subnormals kept;
  // every AVX2 CPU has F16C, and dispatch.cpp checks it). bfloat16: storage.h's integer rounding,
  // 8 lanes at a time (x86 has no bfloat16 conversion that keeps subnormals).
  static PYGD_INLINE Vec load(const Float16* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  PYGD_INLINE void store(Float16* p) const {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm256_cvtps_ph(r, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
  static PYGD_INLINE Vec load(const BFloat16* p) {
    const __m256i h = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(h, 16));
  }
  PYGD_INLINE void store(BFloat16* p) const {
    const __m256i u = _mm256_castps_si256(r);
    const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
    const __m256i rounded = _mm256_srli_epi32(_mm256_add_epi32(u, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff))), 16);
    const __m256i quiet = _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(0x40));
    const __m256i nan = _mm256_castps_si256(_mm256_cmp_ps(r, r, _CMP_UNORD_Q));
    const __m256i h = _mm256_blendv_epi8(rounded, quiet, nan);  // each lane <= 0xffff: packs exactly
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p),
                     _mm_packus_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1)));
  }
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
