// The one path from Python arguments to a CPU sweep: check every array (gather), then run the Op
// over the whole list, without the GIL when the work is big enough to pay for giving it up.
#pragma once
#include <pybind11/pybind11.h>

#include "../cpu/parallel.h"
#include "gather.h"

namespace pygd::bindings {

// Calls this small (a few microseconds of work) keep the GIL, as NumPy's small operations do: giving
// it up costs more than the kernel, and a busy Python thread could hold it for a whole switch
// interval (5 ms) before this call gets it back.
constexpr int64_t kReleaseGilFrom = 16384;

// Returns None, or the problem tuple from gather() when an array is unfit (nothing written then).
template <class Op>
py::object checked_run(py::tuple streams, int64_t step, const typename Op::Config& config) {
  thread_local cpu::TensorList list;
  cpu::Dtype dtype = cpu::Dtype::kFloat32;
  ArrayRefs refs;
  py::object problem = gather(streams, Op::kWritten, Op::kOptional, list, dtype, refs);
  if (!problem.is_none()) return problem;
  if (list.elements() >= kReleaseGilFrom) {
    py::gil_scoped_release release;
    cpu::run<Op>(config, step, dtype, list);
  } else if (list.elements() > 0) {
    cpu::run<Op>(config, step, dtype, list);
  }
  return py::none();
}

// The checks of checked_run<Op> alone: None if a call with these streams would run, else the problem.
template <class Op>
py::object check(py::tuple streams) {
  thread_local cpu::TensorList list;
  cpu::Dtype dtype = cpu::Dtype::kFloat32;
  ArrayRefs refs;
  return gather(streams, Op::kWritten, Op::kOptional, list, dtype, refs);
}

}  // namespace pygd::bindings
