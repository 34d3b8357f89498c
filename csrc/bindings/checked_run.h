// The one path from Python arguments to a CPU sweep: check every array (gather), then run the Op
// over the whole list, without the GIL when the work is big enough to pay for giving it up.
#pragma once
#include <pybind11/pybind11.h>

#include "../cpu/parallel.h"
#include "gather.h"
#include "pointer_table.h"
#include "pygd/amp.h"

namespace pygd::bindings {

// Calls this small (a few microseconds of work) keep the GIL, as NumPy's small operations do: giving
// it up costs more than the kernel, and a busy Python thread could hold it for a whole switch
// interval (5 ms) before this call gets it back.
constexpr int64_t kReleaseGilFrom = 16384;

template <class Op>
void run_list(const typename Op::Config& config, int64_t step, cpu::Layout layout, const cpu::TensorList& list) {
  if (list.elements() >= kReleaseGilFrom) {
    py::gil_scoped_release release;
    cpu::run<Op>(config, step, layout, list);
  } else if (list.elements() > 0) {
    cpu::run<Op>(config, step, layout, list);
  }
}

// gather(), or for an Op that takes every layout (cpu/sweeps.h) gather_layout(), into `layout`.
template <class Op>
py::object gather_for(py::tuple streams, cpu::TensorList& list, cpu::Layout& layout, ArrayRefs& refs) {
  if constexpr (cpu::TakesEveryLayout<Op>::value) {
    return gather_layout(streams, Op::kWritten, Op::kOptional, Op::kStreams, list, layout, refs);
  } else {
    cpu::Dtype dtype = cpu::Dtype::kFloat32;
    py::object problem = gather(streams, Op::kWritten, Op::kOptional, list, dtype, refs);
    layout = cpu::plain_layout(dtype);
    return problem;
  }
}

// Returns None, or the problem tuple from gather() when an array is unfit (nothing written then).
template <class Op>
py::object checked_run(py::tuple streams, int64_t step, const typename Op::Config& config) {
  thread_local cpu::TensorList list;
  cpu::Layout layout = cpu::Layout::kFloat32;
  ArrayRefs refs;
  py::object problem = gather_for<Op>(streams, list, layout, refs);
  if (!problem.is_none()) return problem;
  run_list<Op>(config, step, layout, list);
  return py::none();
}

// The same over a PointerTable, whose owner has checked dtypes, sizes and layouts; only overlaps
// of written buffers are checked here (once, until the table changes).
template <class Op>
py::object table_run(PointerTable& table, int64_t step, const typename Op::Config& config) {
  py::object problem = table.check(Op::kWritten, Op::kOptional);
  if (!problem.is_none()) return problem;
  run_list<Op>(config, step, table.layout(), table.list());
  return py::none();
}

// An optimizer call: `streams` is the tuple of arrays (see gather.h) or a PointerTable. grad_scale
// other than 1 is GradScaler's loss scale: the grads are divided by it in the same pass and stored
// back unscaled (pygd/amp.h).
template <class Op>
py::object optimizer_run(py::handle streams, int64_t step, const typename Op::Config& config,
                         double grad_scale) {
  if (py::isinstance<PointerTable>(streams)) {
    PointerTable& table = streams.cast<PointerTable&>();
    if (grad_scale == 1.0) return table_run<Op>(table, step, config);
    return table_run<Unscaled<Op>>(table, step, {config, grad_scale});
  }
  if (!py::isinstance<py::tuple>(streams)) throw py::type_error("streams must be a tuple or a PointerTable");
  const auto tuple = py::reinterpret_borrow<py::tuple>(streams);
  if (grad_scale == 1.0) return checked_run<Op>(tuple, step, config);
  return checked_run<Unscaled<Op>>(tuple, step, {config, grad_scale});
}

// The checks of checked_run<Op> alone: None if a call with these streams would run, else the problem.
template <class Op>
py::object check(py::tuple streams) {
  thread_local cpu::TensorList list;
  cpu::Layout layout = cpu::Layout::kFloat32;
  ArrayRefs refs;
  return gather_for<Op>(streams, list, layout, refs);
}

}  // namespace pygd::bindings
