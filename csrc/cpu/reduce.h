// The reduction driver: a norm over every element of a list of tensors (one stream), split into
// fixed blocks so that the result is bit-identical for any thread count.
#pragma once
#include <cstdint>

#include "parallel.h"

namespace pygd::cpu {

// Each tensor is cut into blocks of this many elements, whatever the thread count: every block is
// reduced on its own and the block results are joined in list order, so threads only change which
// core reduces a block, never the arithmetic. 16k elements keep the per-block overhead below 1%.
// (The trust-ratio optimizers' norms, trust.cpp, use the same blocks.)
constexpr int64_t kNormBlock = 1 << 14;

// The running value of `kind` over the whole list, before the final root: sum x^2 (kL2), sum |x|
// (kL1), max |x| (kInf), sum |x|^p (kPower). An empty list gives 0. The caller has released the GIL.
double parallel_norm(NormKind kind, double p, Dtype dtype, const TensorList& list);

}  // namespace pygd::cpu
