// Adam, AdamW (decoupled weight decay) and AMSGrad (docs/update-rules.md): the per-element math, written once.
// See sgd.h for what the lane pack V supplies.
#pragma once
#include "config.h"
#include "hparams.h"
#include "lerp.h"

namespace pygd {

struct Adam {
  static constexpr const char* kName = "adam";  // its Python name (kernel and spec)
  using Config = AdamConfig;
  template <class T>
  using Step = AdamStep<T>;

  enum Stream { kParam, kGrad, kExpAvg, kExpAvgSq, kMaxExpAvgSq, kStreams };
  static constexpr unsigned kWritten =
      1u << kParam | 1u << kExpAvg | 1u << kExpAvgSq | 1u << kMaxExpAvgSq;
  static constexpr unsigned kOptional = 1u << kMaxExpAvgSq;  // needed for AMSGrad

  template <class V, class T>
  static PYGD_HD PYGD_INLINE void update(const AdamStep<T>& s, V* x) {
    // Operation order and rounding of torch's fused CPU kernel (ATen FusedAdamKernel.cpp) as its
    // vectorized body is compiled: fused where it calls fmadd (the lerp) and where the compiler
    // contracts a product into the sum that follows (g + p*wd; v*beta2 + ((1-beta2)*g)*g, whose
    // second product is the one fused), every other operation rounded once.
    V p = x[kParam];
    V g = x[kGrad];
    if (s.maximize) g = -g;
    if (s.decoupled_decay) p = p * V(s.param_scale);
    if (s.coupled_decay) g = fmadd(p, V(s.weight_decay), g);
    const V m = lerp(x[kExpAvg], g, s.exp_avg_weight);
    const V v = fmadd(V(s.one_minus_beta2) * g, g, x[kExpAvgSq] * V(s.beta2));
    V v_used = v;
    if (s.amsgrad) {
      // The running maximum is kept on the raw (not bias-corrected) second moment, as torch does.
      v_used = max(x[kMaxExpAvgSq], v);
      x[kMaxExpAvgSq] = v_used;
    }
    // eps is added outside the square root, after bias correction: sqrt(v) / sqrt(bc2) + eps.
    const V denom = sqrt(v_used) / V(s.bc2_sqrt) + V(s.eps);
    x[kParam] = p + V(s.neg_step_size) * m / denom;
    x[kExpAvg] = m;
    x[kExpAvgSq] = v;
  }
};

}  // namespace pygd
