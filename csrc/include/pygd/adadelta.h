// Adadelta: a step of RMS[Δθ]/RMS[g] times the gradient, both running averages (docs/update-rules.md):
// the per-element math, written once. See sgd.h for what the lane pack V supplies.
#pragma once
#include "config.h"
#include "hparams.h"

namespace pygd {

struct Adadelta {
  static constexpr const char* kName = "adadelta";  // its Python name (kernel and spec)
  using Config = AdadeltaConfig;
  template <class T>
  using Step = AdadeltaStep<T>;

  enum Stream { kParam, kGrad, kSquareAvg, kAccDelta, kStreams };
  static constexpr unsigned kWritten = 1u << kParam | 1u << kSquareAvg | 1u << kAccDelta;
  static constexpr unsigned kOptional = 0;

  template <class V, class T>
  static PYGD_HD PYGD_INLINE void update(const AdadeltaStep<T>& s, V* x) {
    // Operation order and rounding of torch's for-loop Adadelta (torch/optim/adadelta.py; torch has
    // no fused one), one ATen op at a time as their vectorized loops are compiled: add(.., alpha) a
    // fused multiply-add, mul_(rho).addcmul_(t, t, value) as fma(value*t, t, v*rho),
    // add(eps).sqrt_() rounded twice, div_ then mul_ each rounded.
    const V p = x[kParam];
    V g = x[kGrad];
    if (s.maximize) g = -g;
    if (s.has_weight_decay) g = fmadd(p, V(s.weight_decay), g);
    const V v = fmadd(V(s.one_minus_rho) * g, g, x[kSquareAvg] * V(s.rho));
    const V delta = sqrt(x[kAccDelta] + V(s.eps)) / sqrt(v + V(s.eps)) * g;
    x[kSquareAvg] = v;
    x[kAccDelta] = fmadd(V(s.one_minus_rho) * delta, delta, x[kAccDelta] * V(s.rho));
    x[kParam] = fmadd(delta, V(s.neg_lr), p);
  }
};

}  // namespace pygd
