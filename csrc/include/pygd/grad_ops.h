// Element-wise operations on gradients, written once for every driver as the optimizers are (same
// stream/kWritten/kOptional contract as sgd.h): the scaling pass of clip_grad_norm_, the clamp of
// clip_grad_value_, and in-place gradient accumulation.
#pragma once
#include <cstdint>

#include "config.h"

namespace pygd {

// grad <- grad * scale. clip_grad_norm_'s second pass, run only when clipping is needed.
struct GradScale {
  struct Config {
    double scale;
  };
  template <class T>
  struct Step {
    T scale;
  };

  enum Stream { kGrad, kStreams };
  static constexpr unsigned kWritten = 1u << kGrad;
  static constexpr unsigned kOptional = 0;

  template <class V, class T>
  static PYGD_HD PYGD_INLINE void update(const Step<T>& s, V* x) {
    x[kGrad] = x[kGrad] * V(s.scale);
  }
};

template <class T>
GradScale::Step<T> make_step(const GradScale::Config& c, int64_t /*step*/) {
  return {T(c.scale)};
}

// grad <- clamp(grad, -clip, clip), NaN kept as NaN (torch.clamp). min(y, c) is spelled -max(-y, -c)
// so that only the NaN-propagating max every lane pack already has is needed.
struct GradClamp {
  struct Config {
    double clip;
  };
  template <class T>
  struct Step {
    T neg_clip;
  };

  enum Stream { kGrad, kStreams };
  static constexpr unsigned kWritten = 1u << kGrad;
  static constexpr unsigned kOptional = 0;

  template <class V, class T>
  static PYGD_HD PYGD_INLINE void update(const Step<T>& s, V* x) {
    const V at_least = max(x[kGrad], V(s.neg_clip));
    x[kGrad] = -max(-at_least, V(s.neg_clip));
  }
};

template <class T>
GradClamp::Step<T> make_step(const GradClamp::Config& c, int64_t /*step*/) {
  return {T(-c.clip)};
}

// sum <- sum + scale * grad, or sum <- scale * grad on the first micro-batch (no zeroing pass).
// With scale = 1/k over k micro-batches, `sum` ends as their mean gradient.
struct GradAccumulate {
  struct Config {
    double scale;
    bool overwrite;
  };
  template <class T>
  struct Step {
    T scale;
    bool overwrite;
  };

  enum Stream { kSum, kGrad, kStreams };
  static constexpr unsigned kWritten = 1u << kSum;
  static constexpr unsigned kOptional = 0;

  template <class V, class T>
  static PYGD_HD PYGD_INLINE void update(const Step<T>& s, V* x) {
    x[kSum] = s.overwrite ? V(s.scale) * x[kGrad] : fmadd(V(s.scale), x[kGrad], x[kSum]);
  }
};

template <class T>
GradAccumulate::Step<T> make_step(const GradAccumulate::Config& c, int64_t /*step*/) {
  return {T(c.scale), c.overwrite};
}

}  // namespace pygd
