// AVX2 + FMA sweeps. Compiled with -mavx2 -mfma (CMakeLists.txt) and called only after the CPU reported
// both features (dispatch.cpp).
#include "sweeps.h"
#include "vec_avx2.h"

namespace pygd::cpu::avx2 {
#include "lane.inl"
#include "sweep.inl"
#include "reduce.inl"
#include "trust.inl"
#include "factored.inl"
}  // namespace pygd::cpu::avx2

const pygd::cpu::IsaTables& pygd::cpu::avx2_tables() {
  static const IsaTables tables{avx2::make_table(AllOps{}), avx2::make_reduce_table(), avx2::make_trust_table(TrustOps{}),
                                avx2::make_factored_table()};
  return tables;
}
