// Rprop: a per-element step size grown while the gradient keeps its sign and shrunk when it flips,
// and a step of that size against the gradient's sign (docs/update-rules.md): the per-element math,
// written once. See sgd.h for what the lane pack V supplies.
#pragma once
#include "config.h"
#include "hparams.h"

namespace pygd {

struct Rprop {
  static constexpr const char* kName = "rprop";  // its Python name (kernel and spec)
  using Config = RpropConfig;
  template <class T>
  using Step = RpropStep<T>;

  enum Stream { kParam, kGrad, kPrev, kStepSize, kStreams };
  static constexpr unsigned kWritten = 1u << kParam | 1u << kPrev | 1u << kStepSize;
  static constexpr unsigned kOptional = 0;

  template <class V, class T>
  static PYGD_HD PYGD_INLINE void update(const RpropStep<T>& s, V* x) {
    // torch's for-loop Rprop (torch/optim/rprop.py; torch has no fused one), one ATen op at a time:
    // the sign of the rounded product grad * prev (an underflow to 0 counts as 0; NaN's sign is 0,
    // as torch.sign's), step_size.mul_(factor) rounded, clamp_ as maximum then minimum (NaN
    // propagates), the grad zeroed where the factor is etaminus, then
    // param.addcmul_(sign(grad), step_size, value=-1): fma(-sign, step_size, param), which is
    // param - sign * step_size exactly (the product of a sign and a step size is exact). Written
    // so, as no negation sits inside the fma: a compiler turns that into a fused multiply-subtract,
    // which flips the sign of a NaN step size on some CPUs (aarch64's FMSUB) and not on others.
    const V zero(T(0)), one(T(1));
    V g = x[kGrad];
    if (s.maximize) g = -g;
    const V agreement = g * x[kPrev];
    const V factor = select(agreement > zero, V(s.etaplus), select(agreement < zero, V(s.etaminus), one));
    const V grown = max(x[kStepSize] * factor, V(s.step_size_min));
    const V step_size = select(grown > V(s.step_size_max), V(s.step_size_max), grown);
    g = select(factor == V(s.etaminus), zero, g);
    const V sign = select(g > zero, one, select(g < zero, -one, zero));
    x[kStepSize] = step_size;
    x[kPrev] = g;
    x[kParam] = x[kParam] - sign * step_size;
  }
};

}  // namespace pygd
