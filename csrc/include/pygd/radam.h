// RAdam: Adam whose adaptive step is switched on, and scaled by the variance rectification term,
// once the approximated SMA length passes 5 (docs/update-rules.md): the per-element math, written
// once. See sgd.h for what the lane pack V supplies.
#pragma once
#include "adam_moments.h"
#include "config.h"
#include "hparams.h"
#include "lerp.h"

namespace pygd {

struct Radam {
  static constexpr const char* kName = "radam";  // its Python name (kernel and spec)
  using Config = RadamConfig;
  template <class T>
  using Step = RadamStep<T>;

  enum Stream { kParam, kGrad, kExpAvg, kExpAvgSq, kStreams };
  static constexpr unsigned kWritten = 1u << kParam | 1u << kExpAvg | 1u << kExpAvgSq;
  static constexpr unsigned kOptional = 0;

  template <class V, class T>
  static PYGD_HD PYGD_INLINE void update(const RadamStep<T>& s, V* x) {
    // Operation order and rounding of torch's for-loop RAdam (torch/optim/radam.py; torch has no
    // fused RAdam), one ATen op at a time as their vectorized loops are compiled: the decay and
    // moments as adam_moments.h; exp_avg / bc1 a division;
    // bc2**0.5 / (sqrt(v) + eps) is Tensor.__rtruediv__, a reciprocal then a multiply; the products
    // m_hat * lr * adaptive * rect left to right, each rounded; add_(.., alpha=-1) a subtraction.
    V p = x[kParam], g = x[kGrad], m = x[kExpAvg], v = x[kExpAvgSq];
    adam_moments(s, p, g, m, v);
    x[kExpAvg] = m;
    x[kExpAvgSq] = v;
    const V step = m / V(s.bc1) * V(s.lr);
    if (s.rectified) {
      const V adaptive = V(T(1)) / (sqrt(v) + V(s.eps)) * V(s.bc2_sqrt);
      x[kParam] = p - step * adaptive * V(s.rect);
    } else {
      x[kParam] = p - step;
    }
  }
};

}  // namespace pygd
