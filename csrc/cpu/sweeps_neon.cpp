// NEON sweeps for aarch64. NEON is baseline there, so this unit needs no flags of its own and runs on
// every aarch64 CPU (dispatch.cpp); elsewhere PYGD_BUILD_NEON is undefined (sweeps.h) and the unit
// compiles to nothing, so every build can list every csrc/cpu/*.cpp.
#include "sweeps.h"

#if defined(PYGD_BUILD_NEON)
#include "vec_neon.h"

namespace pygd::cpu::neon {
#include "lane.inl"
#include "sweep.inl"
#include "reduce.inl"
#include "trust.inl"
#include "factored.inl"
}  // namespace pygd::cpu::neon

const pygd::cpu::IsaTables& pygd::cpu::neon_tables() {
  static const IsaTables tables{neon::make_table(AllOps{}), neon::make_reduce_table(), neon::make_trust_table(TrustOps{}),
                                neon::make_factored_table()};
  return tables;
}
#endif
