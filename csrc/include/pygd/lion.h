// Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms"): the sign of an
// interpolation between the momentum and the gradient, with decoupled weight decay
// (docs/update-rules.md): the per-element math, written once. See sgd.h for what the lane pack V
// supplies.
#pragma once
#include "config.h"
#include "hparams.h"
#include "lerp.h"

namespace pygd {

struct Lion {
  static constexpr const char* kName = "lion";  // its Python name (kernel and spec)
  using Config = LionConfig;
  template <class T>
  using Step = LionStep<T>;

  enum Stream { kParam, kGrad, kExpAvg, kStreams };
  static constexpr unsigned kWritten = 1u << kParam | 1u << kExpAvg;
  static constexpr unsigned kOptional = 0;

  template <class V, class T>
  static PYGD_HD PYGD_INLINE void update(const LionStep<T>& s, V* x) {
    // Both interpolations are lerps (lerp.h, as Adam's moving average: exact at both ends). The
    // sign is that of jnp.sign and the paper's: 0 for ±0, NaN for NaN (so a NaN grad reaches its
    // param). lr * sign is exact: the update rounds once, in the subtraction.
    const V zero(T(0)), one(T(1));
    V p = x[kParam];
    V g = x[kGrad];
    if (s.maximize) g = -g;
    const V c = lerp(x[kExpAvg], g, s.update_weight);
    const V sign = select(c > zero, one, select(c < zero, -one, select(c == zero, zero, c)));
    x[kExpAvg] = lerp(x[kExpAvg], g, s.exp_avg_weight);
    if (s.has_weight_decay) p = p * V(s.param_scale);
    x[kParam] = p - V(s.lr) * sign;
  }
};

}  // namespace pygd
