// Operators shared by the x86 SIMD lane packs: one macro spells them for a register type REG, an
// intrinsic prefix MM (_mm256, _mm512) and a suffix SUF (ps, pd). Included by vec_avx2.h and
// vec_avx512.h; the NaN-propagating max, which needs ISA-specific masks, is written in each.
#pragma once
#include <immintrin.h>

#include "pygd/config.h"
#include "pygd/storage.h"

#define PYGD_SIMD_OPS(T, REG, MM, SUF, LANES)                                                        \
  static constexpr int kLanes = LANES;                                                               \
  REG r;                                                                                             \
  Vec() = default;                                                                                   \
  PYGD_INLINE Vec(REG x) : r(x) {}                                                                   \
  PYGD_INLINE Vec(T x) : r(MM##_set1_##SUF(x)) {}                                                    \
  static PYGD_INLINE Vec load(const T* p) { return MM##_loadu_##SUF(p); }                            \
  PYGD_INLINE void store(T* p) const { MM##_storeu_##SUF(p, r); }                                    \
  /* A non-temporal store, to a vector-aligned address (the sweep checks), fenced by the sweep. */   \
  PYGD_INLINE void stream(T* p) const { MM##_stream_##SUF(p, r); }                                   \
  friend PYGD_INLINE Vec operator+(Vec a, Vec b) { return MM##_add_##SUF(a.r, b.r); }                \
  friend PYGD_INLINE Vec operator-(Vec a, Vec b) { return MM##_sub_##SUF(a.r, b.r); }                \
  friend PYGD_INLINE Vec operator*(Vec a, Vec b) { return MM##_mul_##SUF(a.r, b.r); }                \
  friend PYGD_INLINE Vec operator/(Vec a, Vec b) { return MM##_div_##SUF(a.r, b.r); }                \
  /* Flip the sign bit, so -(+0) is -0 exactly as the scalar tail computes it. */                    \
  friend PYGD_INLINE Vec operator-(Vec a) { return MM##_xor_##SUF(a.r, MM##_set1_##SUF(T(-0.0))); } \
  friend PYGD_INLINE Vec fmadd(Vec a, Vec b, Vec c) { return MM##_fmadd_##SUF(a.r, b.r, c.r); }      \
  friend PYGD_INLINE Vec sqrt(Vec a) { return MM##_sqrt_##SUF(a.r); }                               \
  /* Clear the sign bit. */                                                                          \
  friend PYGD_INLINE Vec abs(Vec a) { return MM##_andnot_##SUF(MM##_set1_##SUF(T(-0.0)), a.r); }
