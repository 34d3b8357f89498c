// Adafactor's factored driver (pygd/adafactor.h): every tensor of a call through three passes, each
// one pool call over the whole list (small tensors share threads: no fork per tensor).
//
//   1. factored tensors only: the g^2 sums of each matrix's rows and columns, in column strips of
//      kFactorStrip columns (a work item is one strip of one matrix, all its rows in order); then,
//      on the calling thread, row_var, col_var and each matrix's floored row_var mean (tiny).
//   2. every tensor, in the norms' fixed blocks (kNormBlock elements): u, and the sums of param^2
//      and u^2 in reduce.inl's chains; each tensor's block sums joined in order give its scale.
//   3. every tensor, the same blocks: param = decay * param + scale * u.
//
// Every sum has an order fixed by the tensor's shape alone, so the results are the same bits for
// any thread count and however a list is split into calls.
#pragma once
#include <cstdint>
#include <vector>

#include "sweeps.h"

namespace pygd::cpu {

// Columns per work item of pass 1 (a row's part is one norm span; a strip's column sums fit L1).
constexpr int64_t kFactorStrip = 512;

// Runs one Adafactor step over `tensors` (arrays of `dtype`, checked by the caller); the caller
// has released the GIL. Each tensor's mean_floors is set here.
void run_adafactor(const AdafactorConfig& config, int64_t step, Dtype dtype, std::vector<FactoredTensor>& tensors);

}  // namespace pygd::cpu
