// The vector norms of clip_grad_norm_, as reductions: `accumulate` folds one element (widened to
// double) into a running value, `combine` joins two running values. Drivers own the order of the
// folds (fixed, so the result does not depend on the thread count) and finish the norm: the p-th
// root of a sum for p-norms, the value itself for the max norm.
// V is a double lane pack (scalar or SIMD) that supplies + fmadd abs max; NormPower needs pow and so
// runs on the width-1 lane only (kSimd = false).
#pragma once
#include "config.h"

namespace pygd {

enum class NormKind : int { kL2, kL1, kInf, kPower, kCount };

struct NormL2 {  // sum of squares
  static constexpr bool kSimd = true;
  template <class V>
  static PYGD_HD PYGD_INLINE V accumulate(V acc, V x, double /*p*/) { return fmadd(x, x, acc); }
  template <class V>
  static PYGD_HD PYGD_INLINE V combine(V a, V b) { return a + b; }
};

struct NormL1 {  // sum of magnitudes
  static constexpr bool kSimd = true;
  template <class V>
  static PYGD_HD PYGD_INLINE V accumulate(V acc, V x, double /*p*/) { return acc + abs(x); }
  template <class V>
  static PYGD_HD PYGD_INLINE V combine(V a, V b) { return a + b; }
};

struct NormInf {  // largest magnitude; a NaN anywhere makes the norm NaN, as torch's
  static constexpr bool kSimd = true;
  template <class V>
  static PYGD_HD PYGD_INLINE V accumulate(V acc, V x, double /*p*/) { return max(abs(x), acc); }
  template <class V>
  static PYGD_HD PYGD_INLINE V combine(V a, V b) { return max(a, b); }
};

struct NormPower {  // sum of |x|^p for any other finite p > 0
  static constexpr bool kSimd = false;
  template <class V>
  static PYGD_HD PYGD_INLINE V accumulate(V acc, V x, double p) { return acc + pow(abs(x), p); }
  template <class V>
  static PYGD_HD PYGD_INLINE V combine(V a, V b) { return a + b; }
};

}  // namespace pygd
