// Threads and instruction sets: what the build has, what this CPU runs, and the knobs.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "../cpu/dispatch.h"
#include "../cpu/parallel.h"
#include "../cpu/thread_count.h"
#include "../cpu/thread_pool.h"
#include "register.h"

// For threadpoolctl, which finds libraries by the symbols they export: the threads a call made now
// on this thread would use (pygd/_threadpoolctl.py registers the controller that looks for it).
extern "C" __attribute__((visibility("default"))) int pygd_num_threads(void) {
  return pygd::cpu::current_threads().threads;
}

namespace pygd::bindings {

namespace py = pybind11;
namespace {

std::vector<std::string> names(const std::vector<cpu::Isa>& isas) {
  std::vector<std::string> out;
  for (cpu::Isa isa : isas) out.emplace_back(cpu::isa_name(isa));
  return out;
}

py::tuple count_tuple(const cpu::ThreadCount& count) {
  return py::make_tuple(count.threads, cpu::source_name(count.source));
}

}  // namespace

void register_runtime(py::module_& m) {
  m.attr("max_threads") = cpu::kMaxThreads;
  // (threads, source) a call made now on this thread would use; source names the rule that decided.
  m.def("threads", [] { return count_tuple(cpu::current_threads()); });
  // The count set through pygd: (threads, source), or None when the environment decides.
  m.def("set_count", []() -> py::object {
    const cpu::ThreadCount set = cpu::set_count();
    if (set.threads == 0) return py::none();
    return count_tuple(set);
  });
  // n <= 0 clears the count; source is "set_num_threads" or "threadpoolctl".
  m.def("set_threads", [](int n, const std::string& source) {
    cpu::ThreadSource parsed;
    if (!cpu::parse_settable_source(source.c_str(), &parsed))
      throw py::value_error("source must be 'set_num_threads' or 'threadpoolctl', got '" + source + "'");
    cpu::set_thread_count(n, parsed);
  });
  m.def("usable_cores", [] { return count_tuple(cpu::usable_cores()); });
  m.def("has_openmp", &cpu::follows_openmp);
  m.def("grain", &cpu::grain);
  m.def("set_grain", &cpu::set_grain);
  m.def("pool_stats", [] {
    const cpu::PoolStats s = cpu::pool_stats();
    py::dict d;
    d["workers"] = s.workers;
    d["parallel_calls"] = s.parallel_calls;
    d["worker_chunks"] = s.worker_chunks;
    d["late_wakeups"] = s.late_wakeups;
    return d;
  });
  m.def("_set_worker_delay_us", &cpu::set_worker_delay_us);
  m.def("_cgroup_quota_cpus", &cpu::cgroup_quota_cpus);
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
