// RMSprop, plain or centered, with optional momentum (DESIGN.md §1): the per-element math, written once.
// See sgd.h for what the lane pack V supplies.
#pragma once
#include "config.h"
#include "hparams.h"
#include "lerp.h"

namespace pygd {

struct Rmsprop {
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
    const V p = x[kParam];
    V g = x[kGrad];
    if (s.maximize) g = -g;
    if (s.has_weight_decay) g = fmadd(V(s.weight_decay), p, g);
    const V v = fmadd(V(s.alpha), x[kSquareAvg], V(s.one_minus_alpha) * g * g);
    x[kSquareAvg] = v;
    V avg;
    if (s.centered) {
      const V g_avg = lerp(x[kGradAvg], g, s.grad_avg_weight);
      x[kGradAvg] = g_avg;
      avg = sqrt(v - g_avg * g_avg) + V(s.eps);
    } else {
      avg = sqrt(v) + V(s.eps);
    }
    if (s.has_momentum) {
      const V b = fmadd(V(s.momentum), x[kMomentumBuffer], g / avg);
      x[kMomentumBuffer] = b;
      x[kParam] = fmadd(V(s.neg_lr), b, p);
    } else {
      x[kParam] = p + V(s.neg_lr) * g / avg;
    }
  }
};

}  // namespace pygd
