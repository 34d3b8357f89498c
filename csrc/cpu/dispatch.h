// The one CPU dispatch point: which instruction sets this build and this CPU support, and which
// tables of sweeps and reductions the next call uses.
#pragma once
#include <string>
#include <vector>

#include "sweeps.h"

namespace pygd::cpu {

const char* isa_name(Isa isa);
// Levels compiled into this build, and the subset this CPU (and OS) can run, in ascending order:
// scalar, avx2, avx512 on x86-64; scalar, neon on aarch64; scalar elsewhere.
std::vector<Isa> compiled_isas();
std::vector<Isa> supported_isas();
// Parses "scalar", "avx2", "avx512" or "neon" (whether or not this build has it); false for anything
// else.
bool parse_isa(const std::string& name, Isa* out);

// The level in use; at load it is the best supported. Selecting an unsupported level returns false
// and changes nothing.
Isa active_isa();
bool select_isa(Isa isa);
const IsaTables& active_tables();

}  // namespace pygd::cpu
