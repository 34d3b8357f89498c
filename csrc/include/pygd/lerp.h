// Linear interpolation as torch.lerp computes it: start + w (end - start) below w = 0.5, and
// end - (end - start)(1 - w) from there on, so the result is exact at both ends (w = 0 and w = 1).
// The moving averages (Adam's exp_avg, centered RMSprop's grad_avg) are lerps toward the gradient.
#pragma once
#include "config.h"

namespace pygd {

template <class T>
struct LerpWeight {
  T weight;                // w
  T neg_one_minus_weight;  // -(1 - w)
  bool from_end;           // w >= 0.5: interpolate back from `end`
};

// On the host, once per call.
template <class T>
PYGD_HD LerpWeight<T> make_lerp_weight(double w) {
  return {T(w), T(-(1.0 - w)), w >= 0.5};
}

template <class V, class T>
PYGD_HD PYGD_INLINE V lerp(V start, V end, const LerpWeight<T>& w) {
  const V diff = end - start;
  return w.from_end ? fmadd(V(w.neg_one_minus_weight), diff, end) : fmadd(V(w.weight), diff, start);
}

}  // namespace pygd
