#include "pointer_table.h"

#include <pybind11/stl.h>

#include "gather.h"
#include "register.h"

namespace pygd::bindings {

PointerTable::PointerTable(const std::string& dtype, const std::vector<int64_t>& sizes, int streams) {
  if (dtype == "float32") dtype_ = cpu::Dtype::kFloat32;
  else if (dtype == "float64") dtype_ = cpu::Dtype::kFloat64;
  else throw py::value_error("dtype must be 'float32' or 'float64', got '" + dtype + "'");
  if (streams < 1 || streams > 8) throw py::value_error("streams must be in [1, 8]");
  list_.reset(streams);
  list_.pointers.assign(sizes.size() * size_t(streams), nullptr);
  list_.offsets.reserve(sizes.size() + 1);
  for (int64_t size : sizes) {
    if (size < 0) throw py::value_error("sizes must be >= 0");
    list_.offsets.push_back(list_.offsets.back() + size);
  }
  set_.assign(size_t(streams), false);
}

void PointerTable::set(int stream, py::object addresses) {
  if (stream < 0 || stream >= list_.streams) throw py::index_error("stream out of range");
  const int64_t n = tensors();
  if (addresses.is_none()) {
    for (int64_t j = 0; j < n; ++j) list_.pointers[size_t(j * list_.streams + stream)] = nullptr;
    set_[size_t(stream)] = false;
    checked_written_ = ~0u;
    return;
  }
  if (!PyList_Check(addresses.ptr()) || PyList_GET_SIZE(addresses.ptr()) != n)
    throw py::value_error("addresses must be a list with one int per tensor");
  for (int64_t j = 0; j < n; ++j) {
    const auto address = PyLong_AsUnsignedLongLong(PyList_GET_ITEM(addresses.ptr(), j));
    if (address == static_cast<unsigned long long>(-1) && PyErr_Occurred()) throw py::error_already_set();
    const int64_t size = list_.offsets[size_t(j) + 1] - list_.offsets[size_t(j)];
    if (address == 0 && size > 0) throw py::value_error("a null address for a non-empty tensor");
    assign(stream, j, uintptr_t(address));
  }
  mark_set(stream);
}

void PointerTable::assign(int stream, int64_t j, uintptr_t address) {
  void*& slot = list_.pointers[size_t(j * list_.streams + stream)];
  // New grads often land where the last ones were (the allocator reuses the freed blocks): the last
  // overlap check then still holds.
  if (slot != reinterpret_cast<void*>(address)) {
    slot = reinterpret_cast<void*>(address);
    checked_written_ = ~0u;
  }
}

void PointerTable::mark_set(int stream) {
  if (!set_[size_t(stream)]) checked_written_ = ~0u;
  set_[size_t(stream)] = true;
}

namespace {

PyObject* interned(const char* name) {
  PyObject* s = PyUnicode_InternFromString(name);
  if (!s) throw py::error_already_set();
  return s;  // kept for the life of the process, like CPython's own interned names
}

// obj.method() as an address; false (with no Python error left set) if it raised or was not an int.
bool call_for_address(PyObject* obj, PyObject* method, uintptr_t* address) {
  PyObject* result = PyObject_CallMethodNoArgs(obj, method);
  if (!result) {
    PyErr_Clear();
    return false;
  }
  const auto value = PyLong_AsUnsignedLongLong(result);
  Py_DECREF(result);
  if (value == static_cast<unsigned long long>(-1) && PyErr_Occurred()) {
    PyErr_Clear();
    return false;
  }
  *address = uintptr_t(value);
  return true;
}

// Whether state[param][names[i]] is held[first + i] for every i (identity, no calls).
bool state_unchanged(PyObject* state, PyObject* param, PyObject* names, PyObject* held, Py_ssize_t first) {
  PyObject* entry = PyDict_GetItemWithError(state, param);
  if (!entry || !PyDict_Check(entry)) {
    PyErr_Clear();
    return false;
  }
  for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(names); ++i) {
    PyObject* value = PyDict_GetItemWithError(entry, PyTuple_GET_ITEM(names, i));
    if (value != PyList_GET_ITEM(held, first + i)) {
      PyErr_Clear();
      return false;
    }
  }
  return true;
}

}  // namespace

py::object PointerTable::gather_grads(py::handle params, int grad_stream, py::handle state,
                                      py::handle names, py::handle held) {
  static PyObject* const kGradName = interned("grad");
  static PyObject* const kDataPtr = interned("data_ptr");
  static PyObject* const kIsContiguous = interned("is_contiguous");
  if (grad_stream <= 0 || grad_stream >= list_.streams) throw py::index_error("grad_stream out of range");
  if (!PyList_Check(params.ptr()) || PyList_GET_SIZE(params.ptr()) != tensors())
    throw py::value_error("params must be a list with one tensor per table entry");
  const bool check_state = !state.is_none();
  if (check_state && (!PyDict_Check(state.ptr()) || !PyTuple_Check(names.ptr()) || !PyList_Check(held.ptr()) ||
                      PyList_GET_SIZE(held.ptr()) != tensors() * PyTuple_GET_SIZE(names.ptr())))
    throw py::value_error("state must be a dict, names a tuple, held a list of len(params) * len(names)");
  const Py_ssize_t per_tensor = check_state ? PyTuple_GET_SIZE(names.ptr()) : 0;
  auto failure = [](GatherFailure why, int64_t j) { return py::make_tuple(int(why), j); };
  mark_set(grad_stream);
  for (int64_t j = 0; j < tensors(); ++j) {
    PyObject* param = PyList_GET_ITEM(params.ptr(), j);
    uintptr_t address = 0;
    if (!call_for_address(param, kDataPtr, &address) ||
        list_.pointers[size_t(j * list_.streams)] != reinterpret_cast<void*>(address))
      return failure(kParamMoved, j);
    if (check_state && !state_unchanged(state.ptr(), param, names.ptr(), held.ptr(), Py_ssize_t(j) * per_tensor))
      return failure(kStateChanged, j);
    PyObject* grad = PyObject_GetAttr(param, kGradName);
    if (!grad) throw py::error_already_set();
    const py::object grad_ref = py::reinterpret_steal<py::object>(grad);
    if (grad == Py_None) return failure(kNoGrad, j);
    PyObject* contiguous = PyObject_CallMethodNoArgs(grad, kIsContiguous);
    if (!contiguous) PyErr_Clear();
    const bool is_contiguous = contiguous == Py_True;
    Py_XDECREF(contiguous);
    if (!is_contiguous || !call_for_address(grad, kDataPtr, &address)) return failure(kGradNotContiguous, j);
    const int64_t size = list_.offsets[size_t(j) + 1] - list_.offsets[size_t(j)];
    if (address == 0 && size > 0) return failure(kGradNotContiguous, j);
    assign(grad_stream, j, address);
  }
  return py::none();
}

py::object PointerTable::check(unsigned written, unsigned optional) {
  if (written == checked_written_) return py::none();
  for (int k = 0; k < list_.streams; ++k)
    if (!set_[size_t(k)] && !(optional >> k & 1u)) throw py::value_error("a required stream is not set");
  const int64_t itemsize = dtype_ == cpu::Dtype::kFloat32 ? 4 : 8;
  thread_local std::vector<Span> spans;
  spans.clear();
  for (int k = 0; k < list_.streams; ++k) {
    if (!set_[size_t(k)]) continue;
    for (int64_t j = 0; j < tensors(); ++j) {
      const int64_t size = list_.offsets[size_t(j) + 1] - list_.offsets[size_t(j)];
      if (size == 0) continue;
      const auto begin = reinterpret_cast<uintptr_t>(list_.pointers[size_t(j * list_.streams + k)]);
      spans.push_back({begin, begin + uintptr_t(size * itemsize), k, Py_ssize_t(j), bool(written >> k & 1u)});
    }
  }
  py::object overlap = find_overlap(spans);
  if (overlap.is_none()) checked_written_ = written;
  return overlap;
}

void register_pointer_table(py::module_& m) {
  py::class_<PointerTable>(m, "PointerTable",
                           "The tensors of a call as raw addresses (see csrc/bindings/pointer_table.h).")
      .def(py::init<const std::string&, const std::vector<int64_t>&, int>(), py::arg("dtype"),
           py::arg("sizes"), py::arg("streams"))
      .def("set", &PointerTable::set, py::arg("stream"), py::arg("addresses"))
      .def("gather_grads", &PointerTable::gather_grads, py::arg("params"), py::arg("grad_stream"),
           py::arg("state") = py::none(), py::arg("names") = py::tuple(), py::arg("held") = py::list(),
           "Sets stream grad_stream from params[j].grad (see pointer_table.h); None, or "
           "(reason, j): 1 no grad, 2 grad not contiguous (or unreadable), 3 param moved, "
           "4 state changed.")
      .def("check", &PointerTable::check, py::arg("written"), py::arg("optional"),
           "None if an update writing the streams in the `written` mask may run, else the problem "
           "tuple (see gather.h). Kernel calls on the table run the same check (remembered).")
      .def_property_readonly("tensors", &PointerTable::tensors)
      .def_property_readonly("elements", [](const PointerTable& t) { return t.list().elements(); });
}

}  // namespace pygd::bindings
