// AVX-512 (F + DQ) sweeps. Compiled with -mavx512f -mavx512dq (CMakeLists.txt) and called only after the
// CPU and the OS reported both features (dispatch.cpp).
#include "sweeps.h"
#include "vec_avx512.h"

namespace pygd::cpu::avx512 {
#include "lane.inl"
#include "sweep.inl"
#include "reduce.inl"
#include "trust.inl"
#include "factored.inl"
}  // namespace pygd::cpu::avx512

const pygd::cpu::IsaTables& pygd::cpu::avx512_tables() {
  static const IsaTables tables{avx512::make_table(AllOps{}), avx512::make_reduce_table(), avx512::make_trust_table(TrustOps{}),
                                avx512::make_factored_table()};
  return tables;
}
