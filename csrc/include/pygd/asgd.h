// ASGD: SGD with a decaying learning rate eta and a running average ax of the iterates, weighted
// by mu (Polyak & Juditsky 1992; docs/update-rules.md): the per-element math, written once. See
// sgd.h for what the lane pack V supplies. eta and mu are state the caller keeps and advances
// (torch's state["eta"], state["mu"]); this step reads them as they are before its advance.
#pragma once
#include "config.h"
#include "hparams.h"
#include "unread.h"

namespace pygd {

struct Asgd {
  static constexpr const char* kName = "asgd";  // its Python name (kernel and spec)
  using Config = AsgdConfig;
  template <class T>
  using Step = AsgdStep<T>;

  enum Stream { kParam, kGrad, kAx, kStreams };
  static constexpr unsigned kWritten = 1u << kParam | 1u << kAx;
  static constexpr unsigned kOptional = 0;

  // While mu is exactly 1 the average is a copy of the param (torch's ax.copy_(param)): not read.
  template <class T>
  static PYGD_HD PYGD_INLINE unsigned unread(const AsgdStep<T>& s) {
    return s.mu_is_one ? 1u << kAx : 0u;
  }

  template <class V, class T>
  static PYGD_HD PYGD_INLINE void update(const AsgdStep<T>& s, V* x) {
    // torch's for-loop ASGD (torch/optim/asgd.py; torch has no fused one), one ATen op at a time:
    // grad.add(param, alpha=wd) and param.add_(grad, alpha=-eta) fused multiply-adds,
    // param.mul_(1 - lambd * eta) rounded; ax.add_(param.sub(ax).mul_(mu)) each op rounded, or
    // ax.copy_(param) while mu is exactly 1.
    V p = x[kParam];
    V g = x[kGrad];
    if (s.maximize) g = -g;
    if (s.has_weight_decay) g = fmadd(p, V(s.weight_decay), g);
    p = fmadd(g, V(s.neg_eta), p * V(s.decay_scale));
    x[kParam] = p;
    x[kAx] = s.mu_is_one ? p : x[kAx] + (p - x[kAx]) * V(s.mu);
  }
};

}  // namespace pygd
