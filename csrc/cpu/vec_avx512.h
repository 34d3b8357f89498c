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
  // Narrow storage, with AVX-512F's own instructions (no BF16/FP16 extension needed). float16:
  // VCVTPH2PS / VCVTPS2PH, round to nearest even. bfloat16: storage.h's integer rounding, 16 lanes
  // at a time, narrowed by VPMOVDW (AVX-512 BF16's VCVTNEPS2BF16 would flush subnormals to zero).
  static PYGD_INLINE Vec load(const Float16* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  PYGD_INLINE void store(Float16* p) const {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm512_cvtps_ph(r, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
  static PYGD_INLINE Vec load(const BFloat16* p) {
    const __m512i h = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    return _mm512_castsi512_ps(_mm512_slli_epi32(h, 16));
  }
  PYGD_INLINE void store(BFloat16* p) const {
    const __m512i u = _mm512_castps_si512(r);
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    const __m512i rounded = _mm512_srli_epi32(_mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff))), 16);
    const __m512i quiet = _mm512_or_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x40));
    const __m512i h = _mm512_mask_blend_epi32(_mm512_cmp_ps_mask(r, r, _CMP_UNORD_Q), rounded, quiet);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm512_cvtepi32_epi16(h));
  }
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
