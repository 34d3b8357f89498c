// NAdam: Adam with Nesterov momentum through a schedule of momentum coefficients mu_t
// (Dozat 2016; docs/update-rules.md): the per-element math, written once. See sgd.h for what the
// lane pack V supplies.
#pragma once
#include "adam_moments.h"
#include "config.h"
#include "hparams.h"
#include "lerp.h"

namespace pygd {

struct Nadam {
  static constexpr const char* kName = "nadam";  // its Python name (kernel and spec)
  using Config = NadamConfig;
  template <class T>
  using Step = NadamStep<T>;

  enum Stream { kParam, kGrad, kExpAvg, kExpAvgSq, kStreams };
  static constexpr unsigned kWritten = 1u << kParam | 1u << kExpAvg | 1u << kExpAvgSq;
  static constexpr unsigned kOptional = 0;

  template <class V, class T>
  static PYGD_HD PYGD_INLINE void update(const NadamStep<T>& s, V* x) {
    // Operation order and rounding of torch's for-loop NAdam (torch/optim/nadam.py; torch has no
    // fused one), one ATen op at a time as their vectorized loops are compiled: the decay and
    // moments as adam_moments.h; exp_avg_sq.div(bc2).sqrt() then add_(eps), each rounded; each
    // addcdiv_(t1, denom, value) as p + (value*t1) / denom, unfused (see adamax.h).
    V p = x[kParam], g = x[kGrad], m = x[kExpAvg], v = x[kExpAvgSq];
    adam_moments(s, p, g, m, v);
    x[kExpAvg] = m;
    x[kExpAvgSq] = v;
    const V denom = sqrt(v / V(s.bc2)) + V(s.eps);
    p = p + V(s.grad_value) * g / denom;
    x[kParam] = p + V(s.exp_avg_value) * m / denom;
  }
};

}  // namespace pygd
