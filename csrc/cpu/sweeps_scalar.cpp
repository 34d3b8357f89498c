// Baseline sweeps: portable C++ with no ISA flags, for any CPU (and the only level off x86-64).
// Multiply-adds stay unfused so every element rounds the same whether or not the compiler vectorizes.
#include "sweeps.h"

namespace pygd::cpu::scalar {
#define PYGD_LANE_FMA 0
#include "lane.inl"
template <class T>
using Vec = Lane<T>;
#include "sweep.inl"
#include "reduce.inl"
}  // namespace pygd::cpu::scalar

const pygd::cpu::IsaTables& pygd::cpu::scalar_tables() {
  static const IsaTables tables{scalar::make_table(AllOps{}), scalar::make_reduce_table()};
  return tables;
}
