// Adagrad with lr decay and coupled weight decay (docs/update-rules.md): the per-element math, written once.
// The initial accumulator value is the caller's: it is whatever `state_sums` holds before step 1.
// See sgd.h for what the lane pack V supplies.
#pragma once
#include "config.h"
#include "hparams.h"

namespace pygd {

struct Adagrad {
  static constexpr const char* kName = "adagrad";  // its Python name (kernel and spec)
  using Config = AdagradConfig;
  template <class T>
  using Step = AdagradStep<T>;

  enum Stream { kParam, kGrad, kStateSum, kStreams };
  static constexpr unsigned kWritten = 1u << kParam | 1u << kStateSum;
  static constexpr unsigned kOptional = 0;

  template <class V, class T>
  static PYGD_HD PYGD_INLINE void update(const AdagradStep<T>& s, V* x) {
    const V p = x[kParam];
    V g = x[kGrad];
    if (s.maximize) g = -g;
    // Operation order and rounding of torch's fused CPU kernel (ATen FusedAdagradKernel.cpp) as its
    // vectorized body is compiled: the compiler contracts g + p*wd and sum + g*g into fused
    // multiply-adds; the rest is rounded once per operation.
    if (s.has_weight_decay) g = fmadd(p, V(s.weight_decay), g);
    const V sum = fmadd(g, g, x[kStateSum]);
    x[kStateSum] = sum;
    x[kParam] = p + V(s.neg_clr) * g / (sqrt(sum) + V(s.eps));
  }
};

}  // namespace pygd
