#include "dispatch.h"

#include <atomic>

namespace pygd::cpu {
namespace {

bool cpu_has(Isa isa) {
  switch (isa) {
    case Isa::kScalar:
      return true;
#if defined(PYGD_BUILD_AVX2)
    case Isa::kAvx2:
      // __builtin_cpu_supports also checks that the OS saves the wide registers (XCR0).
      // F16C: the float16 loads and stores (every AVX2 CPU has it).
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
#endif
#if defined(PYGD_BUILD_AVX512)
    case Isa::kAvx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq");
#endif
#if defined(PYGD_BUILD_NEON)
    case Isa::kNeon:
      return true;  // baseline on aarch64: every CPU that runs this build has it
#endif
    default:
      return false;
  }
}

const IsaTables& tables_for(Isa isa) {
  switch (isa) {
#if defined(PYGD_BUILD_AVX2)
    case Isa::kAvx2:
      return avx2_tables();
#endif
#if defined(PYGD_BUILD_AVX512)
    case Isa::kAvx512:
      return avx512_tables();
#endif
#if defined(PYGD_BUILD_NEON)
    case Isa::kNeon:
      return neon_tables();
#endif
    default:
      return scalar_tables();
  }
}

struct Active {
  std::atomic<Isa> isa;
  std::atomic<const IsaTables*> tables;
};

Active& active() {
  static Active state = [] {
    const Isa best = supported_isas().back();
    return Active{{best}, {&tables_for(best)}};
  }();
  return state;
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kAvx2:
      return "avx2";
    case Isa::kAvx512:
      return "avx512";
    case Isa::kNeon:
      return "neon";
    default:
      return "scalar";
  }
}

std::vector<Isa> compiled_isas() {
  std::vector<Isa> isas{Isa::kScalar};
#if defined(PYGD_BUILD_AVX2)
  isas.push_back(Isa::kAvx2);
#endif
#if defined(PYGD_BUILD_AVX512)
  isas.push_back(Isa::kAvx512);
#endif
#if defined(PYGD_BUILD_NEON)
  isas.push_back(Isa::kNeon);
#endif
  return isas;
}

std::vector<Isa> supported_isas() {
  std::vector<Isa> isas;
  for (Isa isa : compiled_isas())
    if (cpu_has(isa)) isas.push_back(isa);
  return isas;
}

bool parse_isa(const std::string& name, Isa* out) {
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kNeon}) {
    if (name == isa_name(isa)) {
      *out = isa;
      return true;
    }
  }
  return false;
}

Isa active_isa() { return active().isa.load(); }

bool select_isa(Isa isa) {
  if (!cpu_has(isa)) return false;
  active().tables.store(&tables_for(isa));
  active().isa.store(isa);
  return true;
}

const IsaTables& active_tables() { return *active().tables.load(std::memory_order_relaxed); }

}  // namespace pygd::cpu
