// SGD with momentum, dampening, Nesterov, coupled weight decay and maximize (docs/update-rules.md).
// The per-element math, written once. V is any lane pack: a scalar lane, a SIMD vector, or a CUDA
// thread's value; it supplies + - * / unary-, fmadd(a, b, c) = a*b + c, sqrt, abs, max, the
// ordered comparisons > < == (a V::Mask, false where either side is NaN) and select(mask, a, b).
// Each optimizer names its streams (the arrays of one tensor) and says which it writes (kWritten)
// and which may be absent (kOptional: null pointers, never read or written by update()).
#pragma once
#include "config.h"
#include "hparams.h"

namespace pygd {

struct Sgd {
  static constexpr const char* kName = "sgd";  // its Python name (kernel and spec)
  using Config = SgdConfig;
  template <class T>
  using Step = SgdStep<T>;

  enum Stream { kParam, kGrad, kMomentumBuffer, kStreams };
  static constexpr unsigned kWritten = 1u << kParam | 1u << kMomentumBuffer;
  static constexpr unsigned kOptional = 1u << kMomentumBuffer;  // needed when momentum != 0

  template <class V, class T>
  static PYGD_HD PYGD_INLINE void update(const SgdStep<T>& s, V* x) {
    // Operation order and rounding of torch's fused CPU kernel (ATen FusedSGDKernel.cpp) as its
    // vectorized body is compiled: fused where it calls fmadd and where the compiler contracts
    // param += g * (-lr) into one.
    V p = x[kParam];
    V g = x[kGrad];
    if (s.maximize) g = -g;
    if (s.has_weight_decay) g = fmadd(p, V(s.weight_decay), g);
    if (s.has_momentum) {
      V b = s.first_step ? g
                         : fmadd(V(s.one_minus_dampening), g, x[kMomentumBuffer] * V(s.momentum));
      x[kMomentumBuffer] = b;
      g = s.nesterov ? fmadd(b, V(s.momentum), g) : b;
    }
    x[kParam] = fmadd(g, V(s.neg_lr), p);
  }
};

}  // namespace pygd
