// Baseline sweeps: portable C++ with no ISA flags, for any CPU (and the only level off x86-64 and
// aarch64).
// fmadd is the correctly rounded fused multiply-add here too (a libm call where the target has no FMA
// instruction): every ISA level rounds alike, as torch's vectorized kernels do.
#include "sweeps.h"

namespace pygd::cpu::scalar {
#include "lane.inl"
template <class T>
using Vec = Lane<T>;
#include "sweep.inl"
#include "reduce.inl"
#include "trust.inl"
#include "factored.inl"
}  // namespace pygd::cpu::scalar

const pygd::cpu::IsaTables& pygd::cpu::scalar_tables() {
  static const IsaTables tables{scalar::make_table(AllOps{}), scalar::make_reduce_table(), scalar::make_trust_table(TrustOps{}),
                                scalar::make_factored_table()};
  return tables;
}
