// The bandwidth probe: the memory traffic of a fused update (one read-only stream, up to three
// streams read and written in place) with arithmetic too cheap to matter. Its GB/s is the floor
// that every optimizer is measured against (docs/roofline.md).
#pragma once
#include "config.h"
#include "hparams.h"

namespace pygd {

struct Probe {
  using Config = ProbeConfig;
  template <class T>
  using Step = ProbeStep<T>;

  enum Stream { kTarget, kSource, kExtra1, kExtra2, kStreams };
  static constexpr unsigned kWritten = 1u << kTarget | 1u << kExtra1 | 1u << kExtra2;
  static constexpr unsigned kOptional = 1u << kExtra1 | 1u << kExtra2;

  template <class V, class T>
  static PYGD_HD PYGD_INLINE void update(const ProbeStep<T>& s, V* x) {
    const V g = x[kSource];
    x[kTarget] = fmadd(V(s.scale), g, x[kTarget]);
    x[kExtra1] = fmadd(V(s.scale), g, x[kExtra1]);
    x[kExtra2] = fmadd(V(s.scale), g, x[kExtra2]);
  }
};

}  // namespace pygd
