// RMSprop, plain or centered, with optional momentum (docs/update-rules.md): the per-element math, written once.
// See sgd.h for what the lane pack V supplies.
#pragma once
#include "config.h"
#include "hparams.h"
#include "lerp.h"

namespace pygd {

struct Rmsprop {
  static constexpr const char* kName = "rmsprop";  // its Python name (kernel and spec)
  using Config = RmspropConfig;
  template <class T>
  using Step = RmspropStep<T>;

  enum Stream { kParam, kGrad, kSquareAvg, kMomentumBuffer, kGradAvg, kStreams };
  static constexpr unsigned kWritten =
      1u << kParam | 1u << kSquareAvg | 1u << kMomentumBuffer | 1u << kGradAvg;
  // Needed when momentum > 0 and when centered, respectively.
  static constexpr unsigned kOptional = 1u << kMomentumBuffer | 1u << kGradAvg;

  template <class V, class T>
  static PYGD_HD PYGD_INLINE void update(const RmspropStep<T>& s, V* x) {
    // Operation order and rounding of torch's for-loop RMSprop (torch/optim/rmsprop.py), one ATen
    // op at a time as their vectorized loops are compiled: add(.., alpha) is a fused multiply-add,
    // addcmul(t1, t2, value) is fma(value*t1, t2, self) (the compiler contracts it), addcdiv
    // self + value*t1/t2 is not fused, mul_ rounds on its own, lerp_ as in lerp.h.
    const V p = x[kParam];
    V g = x[kGrad];
    if (s.maximize) g = -g;
    if (s.has_weight_decay) g = fmadd(p, V(s.weight_decay), g);
    const V v = fmadd(V(s.one_minus_alpha) * g, g, x[kSquareAvg] * V(s.alpha));
    x[kSquareAvg] = v;
    V avg;
    if (s.centered) {
      const V g_avg = lerp(x[kGradAvg], g, s.grad_avg_weight);
      x[kGradAvg] = g_avg;
      avg = sqrt(fmadd(-g_avg, g_avg, v)) + V(s.eps);
    } else {
      avg = sqrt(v) + V(s.eps);
    }
    if (s.has_momentum) {
      const V b = x[kMomentumBuffer] * V(s.momentum) + g / avg;
      x[kMomentumBuffer] = b;
      x[kParam] = fmadd(b, V(s.neg_lr), p);
    } else {
      x[kParam] = p + V(s.neg_lr) * g / avg;
    }
  }
};

}  // namespace pygd
