// Narrow storage: bfloat16 and float16 elements held in memory and updated in float32 (the math
// headers never see them; a lane pack widens on load and narrows on store). These are the exact
// integer conversions, the definition every ISA's instructions are held to (tests/native/
// isa_parity.cpp, tests/test_lowp.py): widening is exact; narrowing rounds to nearest, ties to even,
// keeps subnormals (no flush to zero), overflows to infinity, and keeps a NaN a NaN (quiet, its sign
// and the top of its payload kept, as x86's VCVTPS2PH and aarch64's FCVTN do).
// Used by the scalar lane at every level, and by a SIMD level where it has no instruction (bfloat16
// on every x86 level: AVX-512 BF16's VCVTNEPS2BF16 flushes subnormals to zero, so it cannot give
// these bits).
#pragma once
#include <cstdint>
#include <cstring>

#include "config.h"

namespace pygd {

// The two narrow element types, as bits: distinct types so that a lane pack's load/store overloads
// pick the conversion by the pointer's type.
struct BFloat16 {
  uint16_t bits;
};
struct Float16 {
  uint16_t bits;
};

PYGD_INLINE uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

PYGD_INLINE float bits_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

PYGD_INLINE float widen(BFloat16 h) { return bits_float(uint32_t(h.bits) << 16); }

PYGD_INLINE BFloat16 narrow_bfloat16(float f) {
  const uint32_t u = float_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return {uint16_t((u >> 16) | 0x0040u)};  // NaN: made quiet
  // Round to nearest even on the 16 bits dropped; a carry moves into the exponent (and a value past
  // bfloat16's largest becomes infinity), as IEEE rounding does.
  return {uint16_t((u + 0x7fffu + ((u >> 16) & 1u)) >> 16)};
}

PYGD_INLINE float widen(Float16 h) {
  const uint32_t sign = uint32_t(h.bits & 0x8000u) << 16;
  const uint32_t exponent = (h.bits >> 10) & 0x1fu;
  const uint32_t mantissa = h.bits & 0x3ffu;
  if (exponent == 0x1fu)  // infinity, or NaN (made quiet)
    return bits_float(sign | 0x7f800000u | (mantissa << 13) | (mantissa ? 0x00400000u : 0u));
  if (exponent == 0) {  // zero or subnormal: mantissa * 2^-24, exact in float32
    const float magnitude = float(mantissa) * 5.9604644775390625e-08f;
    return bits_float(sign | float_bits(magnitude));
  }
  return bits_float(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

PYGD_INLINE Float16 narrow_float16(float f) {
  const uint32_t u = float_bits(f);
  const uint32_t sign = (u >> 16) & 0x8000u;
  const uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return {uint16_t(sign | 0x7e00u | ((a >> 13) & 0x3ffu))};  // NaN: made quiet
  if (a >= 0x477ff000u) return {uint16_t(sign | 0x7c00u)};  // >= 65520 (and infinity): infinity
  if (a >= 0x38800000u) {  // a normal float16: rebias the exponent, round 23 mantissa bits to 10
    const uint32_t r = a - 0x38000000u;
    return {uint16_t(sign | ((r + 0xfffu + ((r >> 13) & 1u)) >> 13))};
  }
  if (a < 0x33000000u) return {uint16_t(sign)};  // below 2^-25 (half the smallest subnormal): zero
  // A subnormal float16 (or the smallest normal, where it rounds up): units of 2^-24.
  const uint32_t exponent = a >> 23;  // 102 .. 112
  const uint32_t mantissa = (a & 0x7fffffu) | 0x800000u;
  const uint32_t shift = 126u - exponent;  // 14 .. 24
  uint32_t q = mantissa >> shift;
  const uint32_t rest = mantissa & ((1u << shift) - 1u), half = 1u << (shift - 1u);
  if (rest > half || (rest == half && (q & 1u))) ++q;
  return {uint16_t(sign | q)};
}

}  // namespace pygd
