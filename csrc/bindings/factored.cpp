// Adafactor's entry point: its streams differ in shape (row_var and col_var are a param of dim > 1's
// factors, variance a param of dim <= 1's full second moment), so it checks them itself, with
// gather()'s checks and problem codes, then runs the factored driver (cpu/factored.h).
#include <pybind11/pybind11.h>

#include <vector>

#include "../cpu/factored.h"
#include "checked_run.h"
#include "config_fields.h"
#include "gather.h"
#include "register.h"

namespace pygd::bindings {

using namespace pybind11::literals;

namespace {

using py::detail::PyArray_Proxy;
using npy = py::detail::npy_api;
using Op = Adafactor;

// A stream's i-th item: the bare array, or the list's/tuple's item.
PyObject* item(PyObject* stream, bool bare, Py_ssize_t i) {
  if (bare) return stream;
  return PyList_Check(stream) ? PyList_GET_ITEM(stream, i) : PyTuple_GET_ITEM(stream, i);
}

// Whether factor `a` of param `p` has torch's shape: p's with dim `dim` (-1: row_var, -2: col_var) 1.
bool factor_shape(PyArray_Proxy* a, PyArray_Proxy* p, int dim) {
  if (a->nd != p->nd) return false;
  for (int d = 0; d < p->nd; ++d)
    if (a->dimensions[d] != (d == p->nd + dim ? 1 : p->dimensions[d])) return false;
  return true;
}

// Checks every array of the call (nothing is written before), fills `tensors`; None or a problem.
py::object gather_factored(py::tuple streams, std::vector<cpu::FactoredTensor>& tensors, cpu::Dtype& dtype,
                           ArrayRefs& refs) {
  if (PyTuple_GET_SIZE(streams.ptr()) != Op::kStreams) throw py::value_error("pygd._native: bad streams tuple");
  PyObject* s[Op::kStreams];
  bool bare[Op::kStreams];
  Py_ssize_t n = 0;
  for (int k = 0; k < Op::kStreams; ++k) {
    s[k] = PyTuple_GET_ITEM(streams.ptr(), k);
    bare[k] = is_array(s[k]);
    Py_ssize_t length;
    if (bare[k]) length = 1;
    else if (s[k] == Py_None && k >= Op::kRowVar) length = -1;  // a bare call's unread state
    else if (PyList_Check(s[k]) || PyTuple_Check(s[k])) length = Py_SIZE(s[k]);
    else return problem(Problem::kNotSequence, k, -1);
    if (k == 0) n = length;
    else if (length != -1 && (length != n || bare[k] != bare[0])) return problem(Problem::kLength, k, -1);
  }
  tensors.clear();
  tensors.reserve(size_t(n));
  refs.reserve(size_t(n) * 4);
  thread_local std::vector<Span> spans;
  spans.clear();
  // Checks stream k's i-th array for param p; its data, or null with *out set to the problem.
  auto check = [&](int k, Py_ssize_t i, PyArray_Proxy* p, int factor_dim, py::object* out) -> void* {
    const Py_ssize_t index = bare[0] ? -1 : i;
    PyObject* obj = s[k] == Py_None ? Py_None : item(s[k], bare[k], i);
    if (!is_array(obj)) return *out = problem(Problem::kNotArray, k, index), nullptr;
    auto* a = py::detail::array_proxy(obj);
    cpu::Dtype this_dtype;
    // The factored driver stores float32 and float64 only (no narrow layouts: its tables have two
    // columns), so a bfloat16 or float16 array is refused here, before any pointer is taken.
    if (!native_float(a, &this_dtype) || (this_dtype != cpu::Dtype::kFloat32 && this_dtype != cpu::Dtype::kFloat64))
      return *out = problem(Problem::kDtype, k, index), nullptr;
    if (k == 0 && i == 0) dtype = this_dtype;
    if (this_dtype != dtype) return *out = problem(Problem::kDtypeMismatch, k, index), nullptr;
    if (k > 0 && !(factor_dim ? factor_shape(a, p, factor_dim) : same_shape(a, p)))
      return *out = problem(Problem::kShape, k, index), nullptr;
    if (!(a->flags & npy::NPY_ARRAY_C_CONTIGUOUS_)) return *out = problem(Problem::kNotContiguous, k, index), nullptr;
    if (!(a->flags & npy::NPY_ARRAY_ALIGNED_)) return *out = problem(Problem::kMisaligned, k, index), nullptr;
    const bool writes = Op::kWritten >> k & 1u;
    if (writes && !(a->flags & npy::NPY_ARRAY_WRITEABLE_)) return *out = problem(Problem::kReadOnly, k, index), nullptr;
    refs.hold(obj);
    const int64_t size = element_count(a);
    if (size > 0) {
      const auto begin = reinterpret_cast<uintptr_t>(a->data);
      spans.push_back({begin, begin + uintptr_t(size * (dtype == cpu::Dtype::kFloat32 ? 4 : 8)), k, index, writes});
    }
    return a->data == nullptr ? reinterpret_cast<void*>(uintptr_t(1)) : a->data;  // non-null: checked
  };
  py::object out;
  for (Py_ssize_t i = 0; i < n; ++i) {
    PyObject* param = item(s[0], bare[0], i);
    if (!is_array(param)) return problem(Problem::kNotArray, 0, bare[0] ? -1 : i);
    auto* p = py::detail::array_proxy(param);
    cpu::FactoredTensor t{};
    if (!(t.param = check(Op::kParam, i, p, 0, &out))) return out;
    if (!(t.grad = check(Op::kGrad, i, p, 0, &out))) return out;
    t.size = element_count(p);
    if (p->nd > 1) {
      if (!(t.row_var = check(Op::kRowVar, i, p, -1, &out))) return out;
      if (!(t.col_var = check(Op::kColVar, i, p, -2, &out))) return out;
      t.rows = p->dimensions[p->nd - 2];
      t.cols = p->dimensions[p->nd - 1];
    } else if (!(t.variance = check(Op::kVariance, i, p, 0, &out))) {
      return out;
    }
    tensors.push_back(t);
  }
  return find_overlap(spans);
}

py::object adafactor_step(py::tuple streams, int64_t step, py::handle hparams) {
  const auto config = config_from<AdafactorConfig>(hparams, Op::kName);
  thread_local std::vector<cpu::FactoredTensor> tensors_storage;
  std::vector<cpu::FactoredTensor>& tensors = tensors_storage;
  cpu::Dtype dtype = cpu::Dtype::kFloat32;
  ArrayRefs refs;
  py::object found = gather_factored(streams, tensors, dtype, refs);
  if (!found.is_none()) return found;
  int64_t elements = 0;
  for (const auto& t : tensors) elements += t.size;
  if (elements >= kReleaseGilFrom) {
    py::gil_scoped_release release;
    cpu::run_adafactor(config, step, dtype, tensors);
  } else if (elements > 0) {
    cpu::run_adafactor(config, step, dtype, tensors);
  }
  return py::none();
}

}  // namespace

void register_factored(py::module_& m) {
  m.def(Op::kName, &adafactor_step, "streams"_a, "step"_a, "hparams"_a);
  m.def("check_adafactor", [](py::tuple streams) {
    std::vector<cpu::FactoredTensor> tensors;
    cpu::Dtype dtype = cpu::Dtype::kFloat32;
    ArrayRefs refs;
    return gather_factored(streams, tensors, dtype, refs);
  }, "streams"_a);
  m.attr("hyperparameters")[Op::kName] = field_name_tuple<AdafactorConfig>();
  m.attr("stream_masks")[Op::kName] = py::make_tuple(Op::kWritten, Op::kOptional);
}

}  // namespace pygd::bindings
