// Adamax: Adam's first moment over an exponentially weighted infinity norm (docs/update-rules.md):
// the per-element math, written once. See sgd.h for what the lane pack V supplies (and abs).
#pragma once
#include "config.h"
#include "hparams.h"
#include "lerp.h"

namespace pygd {

struct Adamax {
  static constexpr const char* kName = "adamax";  // its Python name (kernel and spec)
  using Config = AdamaxConfig;
  template <class T>
  using Step = AdamaxStep<T>;

  enum Stream { kParam, kGrad, kExpAvg, kExpInf, kStreams };
  static constexpr unsigned kWritten = 1u << kParam | 1u << kExpAvg | 1u << kExpInf;
  static constexpr unsigned kOptional = 0;

  template <class V, class T>
  static PYGD_HD PYGD_INLINE void update(const AdamaxStep<T>& s, V* x) {
    // Operation order and rounding of torch's for-loop Adamax (torch/optim/adamax.py), one ATen op
    // at a time as their vectorized loops are compiled (torch has no fused Adamax):
    // grad.add(param, alpha=wd) is a fused multiply-add; lerp_ as in lerp.h;
    // maximum(exp_inf.mul_(beta2), grad.abs().add_(eps)) rounds the product and the sum, and
    // propagates NaN; addcdiv_(exp_avg, exp_inf, value=-clr) is p + (-clr * m) / u, unfused.
    const V p = x[kParam];
    V g = x[kGrad];
    if (s.maximize) g = -g;
    if (s.has_weight_decay) g = fmadd(p, V(s.weight_decay), g);
    const V m = lerp(x[kExpAvg], g, s.exp_avg_weight);
    const V u = max(x[kExpInf] * V(s.beta2), abs(g) + V(s.eps));
    x[kExpAvg] = m;
    x[kExpInf] = u;
    x[kParam] = p + V(s.neg_clr) * m / u;
  }
};

}  // namespace pygd
