// The trust-ratio driver (pygd/trust_ratio.h): for every tensor of a call, pass 1 (its two sums of
// squares, and whatever state that pass writes), then pass 2 (the update, scaled by the tensor's
// scale). Pass 1 cuts every tensor into the norms' fixed blocks (reduce.h) and joins each tensor's
// block sums in order: the scales, and so every result, are the same bits for any thread count and
// however a list is split into calls. At most two pool calls over the whole list, so small tensors
// share threads rather than each paying a fork: the first runs every block's pass 1, and a tensor
// of one block runs its pass 2 right after, while its arrays are in cache; the second runs the
// pass 2 of the tensors of several blocks.
#pragma once
#include <cstdint>

#include "parallel.h"

namespace pygd::cpu {

// One trust-ratio Op's passes at the active ISA level for one dtype, and its per-tensor scale.
struct TrustPasses {
  TrustReduceFn reduce;
  TrustApplyFn apply;
  double (*scale)(const void* step, double param_squares, double update_squares);
};

// Both passes over `list`; the caller has released the GIL.
void parallel_trust(const TrustPasses& passes, const void* step, const TensorList& list);

template <class Op, class T>
double tensor_scale_of(const void* step, double param_squares, double update_squares) {
  return Op::tensor_scale(*static_cast<const typename Op::template Step<T>*>(step), param_squares,
                          update_squares);
}

// Narrows the config's scalars for the dtype and runs both passes, or, where the config turns the
// trust ratio off (every trust-ratio Config has `trust_ratio`), the one fused pass of Untrusted<Op>.
template <class Op>
void run_trust(const typename Op::Config& config, int64_t step, Dtype dtype, const TensorList& list) {
  if (!config.trust_ratio) {
    run<Untrusted<Op>>(config, step, dtype, list);
    return;
  }
  const TrustTable& table = active_tables().trust;
  constexpr int k = TrustOps::index_of<Op>();
  if (dtype == Dtype::kFloat32) {
    const auto s = make_step<float>(config, step);
    parallel_trust({table.reduce[k][0], table.apply[k][0], &tensor_scale_of<Op, float>}, &s, list);
  } else {
    const auto s = make_step<double>(config, step);
    parallel_trust({table.reduce[k][1], table.apply[k][1], &tensor_scale_of<Op, double>}, &s, list);
  }
}

}  // namespace pygd::cpu
