// LARS (You et al. 2017, "Large Batch Training of Convolutional Networks"), as optax.lars: the
// gradient plus weight_decay * param, scaled per tensor by trust_coefficient * ||param|| /
// (||u|| + eps) (trust_ratio.h says how the drivers run the two passes) and by -lr, then optax's
// trace (heavy-ball or Nesterov momentum). The per-element math, written once; see sgd.h for what
// the lane pack V supplies.
#pragma once
#include "config.h"
#include "hparams.h"
#include "trust_ratio.h"

namespace pygd {

struct Lars {
  static constexpr const char* kName = "lars";  // its Python name (kernel and spec)
  using Config = LarsConfig;
  template <class T>
  using Step = LarsStep<T>;

  enum Stream { kParam, kGrad, kMomentumBuffer, kStreams };
  static constexpr unsigned kReduceReads = 1u << kParam | 1u << kGrad;
  static constexpr unsigned kReduceWritten = 0;
  static constexpr unsigned kApplyReads = 1u << kParam | 1u << kGrad | 1u << kMomentumBuffer;
  static constexpr unsigned kApplyWritten = 1u << kParam | 1u << kMomentumBuffer;
  static constexpr unsigned kWritten = kReduceWritten | kApplyWritten;
  static constexpr unsigned kOptional = 1u << kMomentumBuffer;  // needed when momentum != 0

  // u = grad + weight_decay * param (optax's add_decayed_weights), grad negated for maximize.
  template <class V, class T>
  static PYGD_HD PYGD_INLINE V direction(const LarsStep<T>& s, V p, V g) {
    if (s.maximize) g = -g;
    return s.has_weight_decay ? fmadd(p, V(s.weight_decay), g) : g;
  }

  // Pass 1: u, whose squares the driver sums (and the param's); nothing is written.
  template <class V, class T>
  static PYGD_HD PYGD_INLINE V reduce(const LarsStep<T>& s, V* x) {
    return direction(s, x[kParam], x[kGrad]);
  }

  // The tensor's scale: -lr * ratio.
  template <class T>
  static double tensor_scale(const LarsStep<T>& s, double param_squares, double update_squares) {
    return -s.lr * trust_ratio(param_squares, update_squares, s.trust_coefficient, s.eps);
  }

  // Pass 2: u' = scale * u; optax's trace: buf = u' + momentum * buf, the update buf, or
  // u' + momentum * buf (the new buf) with nesterov; param += the update. That sum is spelled
  // fmadd(d, 1, p): the same rounding as p + d (d * 1 is exact), but a fixed operand order, so
  // that where both are NaN every lane pack returns the same one (a commutative + leaves the order
  // to the compiler, which may choose differently for the scalar lane and the vector).
  template <class V, class T>
  static PYGD_HD PYGD_INLINE void apply(const LarsStep<T>& s, V* x, V scale) {
    const V p = x[kParam];
    V d = scale * direction(s, p, x[kGrad]);
    if (s.has_momentum) {
      const V b = fmadd(x[kMomentumBuffer], V(s.momentum), d);
      x[kMomentumBuffer] = b;
      d = s.nesterov ? fmadd(b, V(s.momentum), d) : b;
    }
    x[kParam] = fmadd(d, V(T(1)), p);
  }
};

}  // namespace pygd
