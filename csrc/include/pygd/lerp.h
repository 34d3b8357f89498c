// Linear interpolation as torch.lerp computes it (ATen's lerp_vec, also inlined in the fused Adam
// kernel): with w rounded to the element type first, start + w (end - start) where |w| < 0.5, and
// end + (w - 1)(end - start) from there on, each a single fused multiply-add, so the result is exact
// at both ends (w = 0 and w = 1). w - 1 is computed in the element type, as torch does.
// The moving averages (Adam's exp_avg, centered RMSprop's grad_avg) are lerps toward the gradient.
#pragma once
#include "config.h"

namespace pygd {

template <class T>
struct LerpWeight {
  T weight;                // w, rounded to T
  T neg_one_minus_weight;  // w - 1, rounded in T
  bool from_end;           // !(|w| < 0.5): interpolate back from `end`
};

// On the host, once per call.
template <class T>
PYGD_HD LerpWeight<T> make_lerp_weight(double w) {
  const T wt = T(w);
  const T magnitude = wt < T(0) ? -wt : wt;
  return {wt, T(wt - T(1)), !(magnitude < T(0.5))};
}

template <class V, class T>
PYGD_HD PYGD_INLINE V lerp(V start, V end, const LerpWeight<T>& w) {
  const V diff = end - start;
  return w.from_end ? fmadd(V(w.neg_one_minus_weight), diff, end) : fmadd(V(w.weight), diff, start);
}

}  // namespace pygd
