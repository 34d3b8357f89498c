// LAMB (You et al. 2019, "Large Batch Optimization for Deep Learning"), as optax.lamb: Adam's
// bias-corrected direction plus decoupled-into-the-direction weight decay, scaled per tensor by the
// trust ratio ||param|| / ||u|| (trust_ratio.h says how the drivers run the two passes). The
// per-element math, written once; see sgd.h for what the lane pack V supplies.
#pragma once
#include "config.h"
#include "hparams.h"
#include "lerp.h"
#include "trust_ratio.h"

namespace pygd {

struct Lamb {
  static constexpr const char* kName = "lamb";  // its Python name (kernel and spec)
  using Config = LambConfig;
  template <class T>
  using Step = LambStep<T>;

  enum Stream { kParam, kGrad, kExpAvg, kExpAvgSq, kStreams };
  static constexpr unsigned kReduceReads = 1u << kParam | 1u << kGrad | 1u << kExpAvg | 1u << kExpAvgSq;
  static constexpr unsigned kReduceWritten = 1u << kExpAvg | 1u << kExpAvgSq;
  static constexpr unsigned kApplyReads = 1u << kParam | 1u << kExpAvg | 1u << kExpAvgSq;
  static constexpr unsigned kApplyWritten = 1u << kParam;
  static constexpr unsigned kWritten = kReduceWritten | kApplyWritten;
  static constexpr unsigned kOptional = 0;

  // u = m̂ / (sqrt(v̂) + eps) + weight_decay * param, m̂ = m / (1 - beta1^t), v̂ = v / (1 - beta2^t):
  // optax's scale_by_adam (eps_root 0) then add_decayed_weights. The bias corrections are
  // multiplied by as reciprocals: one division and one root per element, in each pass.
  template <class V, class T>
  static PYGD_HD PYGD_INLINE V direction(const LambStep<T>& s, V p, V m, V v) {
    V u = (m * V(s.inv_bc1)) / (sqrt(v * V(s.inv_bc2)) + V(s.eps));
    if (s.has_weight_decay) u = fmadd(p, V(s.weight_decay), u);
    return u;
  }

  // Pass 1: the new moments (into x), and u, whose squares the driver sums (and the param's).
  template <class V, class T>
  static PYGD_HD PYGD_INLINE V reduce(const LambStep<T>& s, V* x) {
    V g = x[kGrad];
    if (s.maximize) g = -g;
    const V m = lerp(x[kExpAvg], g, s.exp_avg_weight);
    const V v = fmadd(V(s.one_minus_beta2) * g, g, x[kExpAvgSq] * V(s.beta2));
    x[kExpAvg] = m;
    x[kExpAvgSq] = v;
    return direction(s, x[kParam], m, v);
  }

  // The tensor's scale: -lr * ratio (optax's lamb: scale_by_trust_ratio() with its defaults).
  template <class T>
  static double tensor_scale(const LambStep<T>& s, double param_squares, double update_squares) {
    return -s.lr * trust_ratio(param_squares, update_squares, 1.0, 0.0);
  }

  // Pass 2: param += scale * u, u recomputed from the moments pass 1 stored.
  template <class V, class T>
  static PYGD_HD PYGD_INLINE void apply(const LambStep<T>& s, V* x, V scale) {
    const V p = x[kParam];
    x[kParam] = fmadd(scale, direction(s, p, x[kExpAvg], x[kExpAvgSq]), p);
  }
};

}  // namespace pygd
