// Threads and instruction sets: what the build has, what this CPU runs, and the knobs.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "../cpu/dispatch.h"
#include "../cpu/parallel.h"
#include "register.h"

namespace pygd::bindings {

namespace py = pybind11;
namespace {

std::vector<std::string> names(const std::vector<cpu::Isa>& isas) {
  std::vector<std::string> out;
  for (cpu::Isa isa : isas) out.emplace_back(cpu::isa_name(isa));
  return out;
}

}  // namespace

void register_runtime(py::module_& m) {
  m.def("num_threads", &cpu::num_threads);
  m.def("set_num_threads", &cpu::set_num_threads);
  m.def("grain", &cpu::grain);
  m.def("set_grain", &cpu::set_grain);
  m.def("has_openmp", &cpu::has_openmp);
  m.def("isa", [] { return std::string(cpu::isa_name(cpu::active_isa())); });
  m.def("compiled_isas", [] { return names(cpu::compiled_isas()); });
  m.def("supported_isas", [] { return names(cpu::supported_isas()); });
  // Returns False, changing nothing, for a name that is unknown or that this CPU cannot run.
  m.def("select_isa", [](const std::string& name) {
    cpu::Isa isa;
    return cpu::parse_isa(name, &isa) && cpu::select_isa(isa);
  });
}

}  // namespace pygd::bindings
