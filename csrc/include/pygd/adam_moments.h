// The first steps that torch's for-loop RAdam and NAdam share (torch/optim/radam.py, nadam.py):
// the signed grad, coupled or decoupled weight decay, and Adam's two moments, each operation
// rounded as ATen's vectorized loops round it: param.mul_ rounded, grad.add(param, alpha) one fused
// multiply-add, lerp_ as in lerp.h, mul_(beta2).addcmul_(g, g, value) as fma(value*g, g, v*beta2).
// (Adam itself follows torch's fused kernel, whose order differs: adam.h.) S is the optimizer's
// Step: it has maximize, decoupled_decay, param_scale, coupled_decay, weight_decay, exp_avg_weight,
// beta2 and one_minus_beta2.
#pragma once
#include "config.h"
#include "lerp.h"

namespace pygd {

template <class V, class S>
PYGD_HD PYGD_INLINE void adam_moments(const S& s, V& p, V& g, V& m, V& v) {
  if (s.maximize) g = -g;
  if (s.decoupled_decay) p = p * V(s.param_scale);
  if (s.coupled_decay) g = fmadd(p, V(s.weight_decay), g);
  m = lerp(m, g, s.exp_avg_weight);
  v = fmadd(V(s.one_minus_beta2) * g, g, v * V(s.beta2));
}

}  // namespace pygd
