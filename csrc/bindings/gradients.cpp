// Gradient tools: the norm reduction and the scaling pass of clip_grad_norm_, clip_grad_value_'s
// clamp, and gradient accumulation. Argument plumbing only; each returns None or a result, or the
// problem tuple from gather() when an array is unfit (nothing has been written then).
#include <pybind11/pybind11.h>

#include "../cpu/reduce.h"
#include "checked_run.h"
#include "register.h"

namespace pygd::bindings {
namespace {

// The running value of the norm (see cpu/reduce.h) as a float, or the problem tuple. `writable`:
// whether the grads must be writable (clip_grad_norm_ scales them afterwards).
py::object grad_norm(py::tuple streams, int kind, double p, bool writable) {
  if (kind < 0 || kind >= int(NormKind::kCount)) throw py::value_error("unknown norm kind");
  thread_local cpu::TensorList list;
  cpu::Dtype dtype = cpu::Dtype::kFloat32;
  ArrayRefs refs;
  py::object problem = gather(streams, writable ? 1u : 0u, 0u, list, dtype, refs);
  if (!problem.is_none()) return problem;
  double value;
  if (list.elements() >= kReleaseGilFrom) {
    py::gil_scoped_release release;
    value = cpu::parallel_norm(NormKind(kind), p, dtype, list);
  } else {
    value = cpu::parallel_norm(NormKind(kind), p, dtype, list);
  }
  return py::float_(value);
}

}  // namespace

void register_gradients(py::module_& m) {
  m.def("grad_norm", &grad_norm);
  m.def("grad_scale", [](py::tuple streams, double scale) {
    return checked_run<GradScale>(streams, 1, {scale});
  });
  m.def("grad_clamp", [](py::tuple streams, double clip) {
    return checked_run<GradClamp>(streams, 1, {clip});
  });
  m.def("grad_accumulate", [](py::tuple streams, double scale, bool overwrite) {
    return checked_run<GradAccumulate>(streams, 1, {scale, overwrite});
  });
}

}  // namespace pygd::bindings
