// NEON (Advanced SIMD, aarch64) lane packs: 4 floats or 2 doubles in a 128-bit register. The same
// interface as vec_avx2.h / vec_avx512.h: lane operations only, the math stays in the Op headers.
// Every operation rounds as the scalar lane (lane.inl) does on aarch64: add/sub/mul/div and sqrt are
// the IEEE, correctly rounded instructions (FADD ... FSQRT, as the scalar path's); fmadd is FMLA, one
// rounding, as __builtin_fma's FMADD; and nothing else is fused because the build passes
// -ffp-contract=off (GCC lowers vmulq/vaddq to plain operators, which it would otherwise contract).
// NEON is baseline on aarch64: this header needs no target flag, only a compiler that defines
// __ARM_NEON (sweeps.h's PYGD_BUILD_NEON).
#pragma once
#include <arm_neon.h>

#include "pygd/config.h"
#include "pygd/storage.h"

namespace pygd::cpu::neon {

template <class T>
struct Vec;

// The operators both element types share, spelled once for a register type REG and an intrinsic
// suffix SUF (f32, f64) with its mask suffix USUF (u32, u64: the comparisons' result type), as
// simd_ops.h does for the x86 packs; the ...q_ intrinsics are NEON's 128-bit forms.
#define PYGD_NEON_OPS(T, REG, SUF, USUF, LANES)                                                      \
  static constexpr int kLanes = LANES;                                                               \
  REG r;                                                                                             \
  Vec() = default;                                                                                   \
  PYGD_INLINE Vec(REG x) : r(x) {}                                                                   \
  PYGD_INLINE Vec(T x) : r(vdupq_n_##SUF(x)) {}                                                      \
  static PYGD_INLINE Vec load(const T* p) { return vld1q_##SUF(p); }                                 \
  PYGD_INLINE void store(T* p) const { vst1q_##SUF(p, r); }                                          \
  PYGD_INLINE void stream(T* p) const { vst1q_##SUF(p, r); } /* no streaming store worth its pair */ \
  friend PYGD_INLINE Vec operator+(Vec a, Vec b) { return vaddq_##SUF(a.r, b.r); }                   \
  friend PYGD_INLINE Vec operator-(Vec a, Vec b) { return vsubq_##SUF(a.r, b.r); }                   \
  friend PYGD_INLINE Vec operator*(Vec a, Vec b) { return vmulq_##SUF(a.r, b.r); }                   \
  friend PYGD_INLINE Vec operator/(Vec a, Vec b) { return vdivq_##SUF(a.r, b.r); }                   \
  /* FNEG flips the sign bit only (NaN included), as the scalar lane's -x compiles to. */            \
  friend PYGD_INLINE Vec operator-(Vec a) { return vnegq_##SUF(a.r); }                               \
  /* a*b + c with one rounding: FMLA takes the addend first. */                                      \
  friend PYGD_INLINE Vec fmadd(Vec a, Vec b, Vec c) { return vfmaq_##SUF(c.r, a.r, b.r); }           \
  friend PYGD_INLINE Vec sqrt(Vec a) { return vsqrtq_##SUF(a.r); }                                   \
  /* FABS clears the sign bit only, as __builtin_fabs does. */                                       \
  friend PYGD_INLINE Vec abs(Vec a) { return vabsq_##SUF(a.r); }                                     \
  /* Not vmaxq (FMAX): FMAX(+0, -0) is +0 where the lane's max gives -0, and it quiets and ranks     \
     NaNs by its own rules. This is the lane's own expression, (a != a || a > b) ? a : b, as its     \
     complement: b where a == a and !(a > b) (BIC: x & ~y), else a. */                               \
  friend PYGD_INLINE Vec max(Vec a, Vec b) {                                                         \
    return vbslq_##SUF(vbicq_##USUF(vceqq_##SUF(a.r, a.r), vcgtq_##SUF(a.r, b.r)), b.r, a.r);        \
  }                                                                                                  \
  /* Ordered comparisons (FCMGT, FCMEQ: false where either side is NaN), as the scalar lane's, into \
     a mask of all-ones lanes, and the select they feed (BSL: a where the mask is set). */           \
  struct Mask {                                                                                      \
    decltype(vceqq_##SUF(REG(), REG())) bits;                                                        \
  };                                                                                                 \
  friend PYGD_INLINE Mask operator>(Vec a, Vec b) { return {vcgtq_##SUF(a.r, b.r)}; }                \
  friend PYGD_INLINE Mask operator<(Vec a, Vec b) { return {vcltq_##SUF(a.r, b.r)}; }                \
  friend PYGD_INLINE Mask operator==(Vec a, Vec b) { return {vceqq_##SUF(a.r, b.r)}; }               \
  friend PYGD_INLINE Vec select(Mask m, Vec a, Vec b) { return vbslq_##SUF(m.bits, a.r, b.r); }

template <>
struct Vec<float> {
  PYGD_NEON_OPS(float, float32x4_t, f32, u32, 4)
  // Narrow storage. float16: FCVTL / FCVTN (round to nearest even under the default FPCR, subnormals
  // kept). bfloat16: storage.h's integer rounding, 4 lanes at a time (the BF16 extension is not
  // baseline).
  static PYGD_INLINE Vec load(const Float16* p) {
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(reinterpret_cast<const uint16_t*>(p))));
  }
  PYGD_INLINE void store(Float16* p) const {
    vst1_u16(reinterpret_cast<uint16_t*>(p), vreinterpret_u16_f16(vcvt_f16_f32(r)));
  }
  static PYGD_INLINE Vec load(const BFloat16* p) {
    return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(reinterpret_cast<const uint16_t*>(p)), 16));
  }
  PYGD_INLINE void store(BFloat16* p) const {
    const uint32x4_t u = vreinterpretq_u32_f32(r);
    const uint32x4_t lsb = vandq_u32(vshrq_n_u32(u, 16), vdupq_n_u32(1));
    const uint16x4_t rounded = vshrn_n_u32(vaddq_u32(u, vaddq_u32(lsb, vdupq_n_u32(0x7fff))), 16);
    const uint16x4_t quiet = vorr_u16(vshrn_n_u32(u, 16), vdup_n_u16(0x40));
    const uint16x4_t ordered = vmovn_u32(vceqq_f32(r, r));
    vst1_u16(reinterpret_cast<uint16_t*>(p), vbsl_u16(ordered, rounded, quiet));
  }
};

template <>
struct Vec<double> {
  PYGD_NEON_OPS(double, float64x2_t, f64, u64, 2)
  // 2 floats or 2 doubles as 2 doubles (the norms accumulate in double); float to double is exact.
  static PYGD_INLINE Vec load_widened(const float* p) { return vcvt_f64_f32(vld1_f32(p)); }
  static PYGD_INLINE Vec load_widened(const double* p) { return load(p); }
};

#undef PYGD_NEON_OPS

}  // namespace pygd::cpu::neon
