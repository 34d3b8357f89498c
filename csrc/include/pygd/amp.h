// Mixed-precision training (torch.amp.GradScaler): the loss, and so every grad, arrives multiplied by
// the loss scale. Unscaled<Op> runs any optimizer's update on grad / scale, in the same pass over
// memory, and stores the unscaled grad back, as torch's fused optimizers do (a caller that reads the
// grads after the step sees what the update used). The math stays the Op's own; this only composes.
#pragma once
#include <cstdint>

#include "config.h"
#include "unread.h"

namespace pygd {

template <class Op>
struct UnscaledConfig {
  typename Op::Config inner;
  double grad_scale;  // what GradScaler multiplied the loss by
};

template <class InnerStep, class T>
struct UnscaledStep {
  InnerStep inner;
  T grad_scale;
};

template <class Op>
struct Unscaled {
  using Config = UnscaledConfig<Op>;
  template <class T>
  using Step = UnscaledStep<typename Op::template Step<T>, T>;

  static constexpr int kGrad = Op::kGrad;
  static constexpr int kStreams = Op::kStreams;
  static constexpr unsigned kWritten = Op::kWritten | 1u << Op::kGrad;
  static constexpr unsigned kOptional = Op::kOptional;

  template <class T>
  static PYGD_HD PYGD_INLINE unsigned unread(const Step<T>& s) {
    return unread_streams<Op>(s.inner);
  }

  template <class V, class T>
  static PYGD_HD PYGD_INLINE void update(const Step<T>& s, V* x) {
    // A division, not a multiply by 1/scale: identical to torch for any scale, not only powers of 2.
    x[kGrad] = x[kGrad] / V(s.grad_scale);
    Op::update(s.inner, x);
  }
};

// Found by the drivers' make_step<T>(config, step) like every Op's own.
template <class T, class Op>
typename Unscaled<Op>::template Step<T> make_step(const UnscaledConfig<Op>& c, int64_t step) {
  return {make_step<T>(c.inner, step), T(c.grad_scale)};
}

}  // namespace pygd
