// Trust-ratio optimizers (LAMB, LARS): an elementwise direction u scaled, per tensor, by a ratio of
// norms ||param|| / ||u|| (You et al. 2017, 2019), as optax's scale_by_trust_ratio computes it. The
// drivers (cpu/trust.inl, cpu/trust.cpp) run such an Op in two passes over each tensor of a call:
//
//   1. u = reduce(s, x) per element: the Op computes what this pass produces (LAMB's new moments,
//      in x; the driver stores the streams in kReduceWritten) and returns u. The driver sums the
//      squares of u and of the param (stream 0, kParam of every such Op) over the tensor, as the
//      norms sum (reduce.inl's fixed chains, fixed blocks): the same bits on every ISA level and
//      thread count.
//   2. apply(s, x, V(scale)) per element, scale = tensor_scale(s, sum a^2, sum b^2) made once per
//      tensor in double and rounded to T: the Op recomputes u from what pass 1 left (never from a
//      buffer of its own) and writes the streams in kApplyWritten.
//
// Each Op also says which streams each pass reads (kReduceReads, kApplyReads): the drivers load
// only those. Untrusted<Op> is the same update with a ratio of 1 (trust_ratio=False: optax's
// masked-out leaves), one fused elementwise pass: pass 1 then pass 2 on the same registers.
#pragma once
#include <cmath>

#include "config.h"

namespace pygd {

// optax's scale_by_trust_ratio (min_norm 0): trust_coefficient * ||param|| / (||u|| + eps), or 1
// where either norm is 0 (a zero param, or no update: the ratio would stop or blow up the step).
// A NaN norm gives a NaN ratio, so a NaN anywhere in a tensor reaches all of it, as in optax.
PYGD_HD PYGD_INLINE double trust_ratio(double param_squares, double update_squares, double trust_coefficient,
                                       double eps) {
  const double param_norm = std::sqrt(param_squares), update_norm = std::sqrt(update_squares);
  if (param_norm == 0.0 || update_norm == 0.0) return 1.0;
  return trust_coefficient * param_norm / (update_norm + eps);
}

template <class Op>
struct Untrusted : Op {
  static_assert(Op::kParam == 0, "the drivers read the param from stream 0");
  static constexpr unsigned kWritten = Op::kReduceWritten | Op::kApplyWritten;

  template <class V, class T>
  static PYGD_HD PYGD_INLINE void update(const typename Op::template Step<T>& s, V* x) {
    Op::reduce(s, x);
    Op::apply(s, x, V(s.neg_lr));
  }
};

}  // namespace pygd
