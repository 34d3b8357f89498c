#include "pointer_table.h"

#include <pybind11/stl.h>

#include "gather.h"
#include "register.h"

namespace pygd::bindings {

PointerTable::PointerTable(const std::string& dtype, const std::vector<int64_t>& sizes, int streams) {
  if (dtype == "float32") dtype_ = cpu::Dtype::kFloat32;
  else if (dtype == "float64") dtype_ = cpu::Dtype::kFloat64;
  else if (dtype == "bfloat16") dtype_ = cpu::Dtype::kBFloat16;
  else if (dtype == "float16") dtype_ = cpu::Dtype::kFloat16;
  else throw py::value_error("dtype must be 'float32', 'float64', 'bfloat16' or 'float16', got '" + dtype + "'");
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

void PointerTable::set_one(int stream, int64_t j, uintptr_t address) {
  if (stream < 0 || stream >= list_.streams) throw py::index_error("stream out of range");
  if (j < 0 || j >= tensors()) throw py::index_error("tensor index out of range");
  if (address == 0 && bytes(j) > 0) throw py::value_error("a null address for a non-empty tensor");
  assign(stream, j, address);
}

int64_t PointerTable::bytes(int64_t j) const {
  const int64_t itemsize = cpu::dtype_size(dtype_);
  return (list_.offsets[size_t(j) + 1] - list_.offsets[size_t(j)]) * itemsize;
}

namespace {

PyObject* interned(const char* name) {
  PyObject* s = PyUnicode_InternFromString(name);
  if (!s) throw py::error_already_set();
  return s;  // kept for the life of the process, like CPython's own interned names
}

// The torch.Tensor protocol gather() reads, as interned names.
struct TensorNames {
  PyObject* grad = interned("grad");
  PyObject* data_ptr = interned("data_ptr");
  PyObject* nbytes = interned("nbytes");
  PyObject* dtype = interned("dtype");
  PyObject* stride = interned("stride");
  PyObject* is_cpu = interned("is_cpu");
  PyObject* is_conj = interned("is_conj");
  PyObject* is_neg = interned("is_neg");
};

const TensorNames& tensor_names() {
  static const TensorNames names;
  return names;
}

// An owned reference that is released at scope exit; a failed lookup leaves no Python error set.
struct Owned {
  PyObject* p;
  explicit Owned(PyObject* obj) : p(obj) {
    if (!p) PyErr_Clear();
  }
  ~Owned() { Py_XDECREF(p); }
  Owned(const Owned&) = delete;
  Owned& operator=(const Owned&) = delete;
};

// `value` as an unsigned integer; false (no Python error left set) if it is not one.
bool as_unsigned(PyObject* value, unsigned long long* out) {
  if (!value || !PyLong_Check(value)) return false;
  *out = PyLong_AsUnsignedLongLong(value);
  if (*out == static_cast<unsigned long long>(-1) && PyErr_Occurred()) {
    PyErr_Clear();
    return false;
  }
  return true;
}

bool call_unsigned(PyObject* obj, PyObject* method, unsigned long long* out) {
  Owned result(PyObject_CallMethodNoArgs(obj, method));
  return as_unsigned(result.p, out);
}

bool attr_unsigned(PyObject* obj, PyObject* name, unsigned long long* out) {
  Owned result(PyObject_GetAttr(obj, name));
  return as_unsigned(result.p, out);
}

// obj.name is `expected` (identity); false also if the lookup raised.
bool attr_is(PyObject* obj, PyObject* name, PyObject* expected) {
  Owned result(PyObject_GetAttr(obj, name));
  return result.p == expected;
}

// obj.method() returned True; false also if it raised.
bool call_is_true(PyObject* obj, PyObject* method) {
  Owned result(PyObject_CallMethodNoArgs(obj, method));
  return result.p == Py_True;
}

// obj.method() returned False (a flag known to be off); false also if it raised.
bool call_is_false(PyObject* obj, PyObject* method) {
  Owned result(PyObject_CallMethodNoArgs(obj, method));
  return result.p == Py_False;
}

// state[param], by the param's hash as watch() computed it: a dict key's hash may not change, and
// torch.Tensor.__hash__ is a Python function (~0.1 us a call).
PyObject* state_entry(PyObject* state, PyObject* param, Py_hash_t hash) {
#if PY_VERSION_HEX < 0x030D0000
  return _PyDict_GetItem_KnownHash(state, param, hash);
#else
  (void)hash;  // the known-hash lookup is private API from Python 3.13 on
  return PyDict_GetItemWithError(state, param);
#endif
}

}  // namespace

void PointerTable::watch(py::list params, py::object dtype, py::list strides, py::object state, py::tuple names,
                         py::tuple name_streams, py::list held, py::tuple step_dtypes, double step,
                         bool check_conj) {
  const auto n = Py_ssize_t(tensors());
  if (PyList_GET_SIZE(params.ptr()) != n || PyList_GET_SIZE(strides.ptr()) != n)
    throw py::value_error("params and strides must have one item per table entry");
  if (!state.is_none() && !PyDict_Check(state.ptr())) throw py::type_error("state must be a dict or None");
  if (PyTuple_GET_SIZE(name_streams.ptr()) != PyTuple_GET_SIZE(names.ptr()) ||
      PyList_GET_SIZE(held.ptr()) != n * PyTuple_GET_SIZE(names.ptr()))
    throw py::value_error("names, name_streams and held must agree: held has len(params) * len(names) items");
  std::vector<int> streams;
  for (py::handle s : name_streams) {
    const int k = s.cast<int>();
    if (k != -1 && (k < 1 || k >= list_.streams)) throw py::value_error("a name's stream is out of range");
    streams.push_back(k);
  }
  if (PyTuple_GET_SIZE(step_dtypes.ptr()) != 2) throw py::value_error("step_dtypes must be (float32, float64)");
  params_ = params;
  torch_dtype_ = dtype;
  strides_ = strides;
  state_ = state;
  names_ = names;
  name_streams_ = std::move(streams);
  held_ = held;
  step_dtypes_ = step_dtypes;
  step_ = step;
  check_conj_ = check_conj;
  watching_ = true;
  step_addresses_.assign(size_t(n), nullptr);
  step_is_double_.assign(size_t(n), false);
  // The step tensors, checked in full here (where, what and on which device) and then, at each
  // gather, for what torch lets change without moving them (see gather()).
  const TensorNames& name = tensor_names();
  for (size_t i = 0; i < name_streams_.size(); ++i) {
    if (name_streams_[i] != -1) continue;
    for (Py_ssize_t j = 0; j < n; ++j) {
      PyObject* step = PyList_GET_ITEM(held.ptr(), j * PyTuple_GET_SIZE(names.ptr()) + Py_ssize_t(i));
      Owned step_dtype(PyObject_GetAttr(step, name.dtype));
      const bool is_double = step_dtype.p == PyTuple_GET_ITEM(step_dtypes.ptr(), 1);
      unsigned long long ptr = 0, nbytes = 0;
      if ((is_double || step_dtype.p == PyTuple_GET_ITEM(step_dtypes.ptr(), 0)) && attr_is(step, name.is_cpu, Py_True) &&
          attr_unsigned(step, name.nbytes, &nbytes) && nbytes == (is_double ? 8u : 4u) &&
          call_unsigned(step, name.data_ptr, &ptr) && ptr != 0) {
        step_addresses_[size_t(j)] = reinterpret_cast<void*>(ptr);
        step_is_double_[size_t(j)] = is_double;
      }
    }
  }
  hashes_.assign(size_t(n), 0);
  if (!state.is_none()) {
    for (Py_ssize_t j = 0; j < n; ++j) {
      const Py_hash_t hash = PyObject_Hash(PyList_GET_ITEM(params.ptr(), j));
      if (hash == -1) throw py::error_already_set();
      hashes_[size_t(j)] = hash;
    }
  }
}

// The facts a table relies on between steps, and how gather() re-checks each before the kernel
// writes. Identity alone proves nothing here: torch lets `.data =`, `set_()`, `resize_()` and in-place
// edits change what an object holds while it stays the same object.
//  1. Each param still has the memory the table writes: data_ptr() equals stream 0's address,
//     nbytes equals the table's size (so a same-address, smaller view is caught), dtype is the call's,
//     and stride() is the one recorded (with the size, its shape and layout); for complex params it
//     is no conjugate or negative view.
//  2. Each state tensor the table writes is still state[param][name] (the entry may be replaced or
//     deleted) and still has the address, nbytes and dtype of its stream (`state.data =`, `set_()`);
//     when `state` is None (a build's first step) the held tensors are checked alone.
//  3. Each step tensor is still state[param]["step"], where watch() found it (on the CPU, float32 or
//     float64, one element; a new storage has another address), of that dtype, and holds the count
//     the call was built for: in-place edits such as zero_(), fill_(), += are read.
//  4. Each grad exists, and is read in place only if it is a CPU tensor of the param's dtype, nbytes
//     and strides (not a conjugate or negative view); every other grad is reported for the caller's
//     slow path, and the remaining tensors are still checked.
//  The group's "params" list (contents, not identity) and the stream layout are checked by the
//  caller (pygd/torch/_plan.py) before gather(); the overlap of written buffers by check().
//  Not checked at each step, as no change of them can make a write unsafe: a state tensor's own
//  shape and strides (the kernel pairs elements by memory, as torch's fused kernels do).
py::object PointerTable::gather(int grad_stream) {
  const TensorNames& name = tensor_names();
  if (!watching_) throw py::value_error("gather() needs watch() first");
  if (grad_stream <= 0 || grad_stream >= list_.streams) throw py::index_error("grad_stream out of range");
  PyObject* const state = state_.is_none() ? nullptr : state_.ptr();
  PyObject* const dtype = torch_dtype_.ptr();
  PyObject* const float32 = PyTuple_GET_ITEM(step_dtypes_.ptr(), 0);
  PyObject* const float64 = PyTuple_GET_ITEM(step_dtypes_.ptr(), 1);
  const Py_ssize_t per_tensor = PyTuple_GET_SIZE(names_.ptr());
  auto failure = [](GatherResult why, int64_t j) { return py::make_tuple(int(why), j); };

  // Whether `obj` has exactly the param's strides: with its numel, they fix its shape and layout
  // (up to the strides of size-1 dimensions, which mean nothing).
  auto laid_out = [&](PyObject* obj, PyObject* strides) {
    Owned obj_strides(PyObject_CallMethodNoArgs(obj, name.stride));
    if (obj_strides.p && PyObject_RichCompareBool(obj_strides.p, strides, Py_EQ) == 1) return true;
    PyErr_Clear();
    return false;
  };
  // Whether `obj` reads as its memory holds it: no lazy conjugate or negation (complex calls only).
  auto plain_view = [&](PyObject* obj) {
    return !check_conj_ || (call_is_false(obj, name.is_conj) && call_is_false(obj, name.is_neg));
  };
  // Whether `obj` still has `bytes` bytes of the call's dtype at `address` (any address when empty).
  auto same_memory = [&](PyObject* obj, void* address, int64_t bytes) {
    unsigned long long ptr = 0, nbytes = 0;
    return call_unsigned(obj, name.data_ptr, &ptr) && (bytes == 0 || reinterpret_cast<void*>(ptr) == address) &&
           attr_unsigned(obj, name.nbytes, &nbytes) && int64_t(nbytes) == bytes && attr_is(obj, name.dtype, dtype) &&
           plain_view(obj);
  };
  // Whether step tensor j is still where watch() found it, of its dtype, holding the call's count.
  auto step_holds_count = [&](PyObject* step, int64_t j) {
    unsigned long long ptr = 0;
    void* const address = step_addresses_[size_t(j)];
    if (!address || !call_unsigned(step, name.data_ptr, &ptr) || reinterpret_cast<void*>(ptr) != address) return false;
    const bool is_double = step_is_double_[size_t(j)];
    if (!attr_is(step, name.dtype, is_double ? float64 : float32)) return false;
    const double value = is_double ? *static_cast<const double*>(address) : double(*static_cast<const float*>(address));
    return value == step_;  // NaN never equals: the caller rebuilds and decides
  };

  // The loop makes and frees small objects (ints, stride tuples); no cyclic garbage collection is
  // worth starting in between, over the (often many thousand) tensors the process holds.
  struct GcPause {
#if PY_VERSION_HEX >= 0x030A0000  // PyGC_Disable is new in Python 3.10
    int was_enabled = PyGC_Disable();
    ~GcPause() {
      if (was_enabled) PyGC_Enable();
    }
#endif
  } gc_pause;
  py::list slow;
  mark_set(grad_stream);
  for (int64_t j = 0; j < tensors(); ++j) {
    PyObject* param = PyList_GET_ITEM(params_.ptr(), j);
    PyObject* strides = PyList_GET_ITEM(strides_.ptr(), j);
    const int64_t size = bytes(j);
    if (!same_memory(param, address(0, j), size) || !laid_out(param, strides)) return failure(kParamChanged, j);

    PyObject* entry = nullptr;
    if (state) {
      entry = state_entry(state, param, hashes_[size_t(j)]);
      if (!entry || !PyDict_Check(entry)) {
        PyErr_Clear();
        return failure(kStateChanged, j);
      }
    }
    for (Py_ssize_t i = 0; i < per_tensor; ++i) {
      PyObject* held = PyList_GET_ITEM(held_.ptr(), Py_ssize_t(j) * per_tensor + i);
      if (entry && PyDict_GetItemWithError(entry, PyTuple_GET_ITEM(names_.ptr(), i)) != held) {
        PyErr_Clear();
        return failure(kStateChanged, j);
      }
      const int stream = name_streams_[size_t(i)];
      if (stream < 0) {
        if (!step_holds_count(held, j)) return failure(kStepChanged, j);
      } else if (!same_memory(held, address(stream, j), size)) {
        return failure(kStateChanged, j);
      }
    }

    Owned grad(PyObject_GetAttr(param, name.grad));
    if (!grad.p) throw py::error_already_set();  // .grad itself raised: the user's error to see
    if (grad.p == Py_None) return failure(kNoGrad, j);
    unsigned long long ptr = 0, nbytes = 0;
    const bool in_place = attr_is(grad.p, name.is_cpu, Py_True) && attr_is(grad.p, name.dtype, dtype) &&
                          attr_unsigned(grad.p, name.nbytes, &nbytes) && int64_t(nbytes) == size &&
                          laid_out(grad.p, strides) && plain_view(grad.p) &&
                          call_unsigned(grad.p, name.data_ptr, &ptr) && (ptr != 0 || size == 0);
    if (in_place) {
      assign(grad_stream, j, uintptr_t(ptr));
    } else {
      // Among others, grads whose strides differ from the param's only along size-1 dimensions: the
      // caller's same_layout() reads those in place too.
      slow.append(j);
    }
  }
  if (PyList_GET_SIZE(slow.ptr()) == 0) return py::none();
  return py::make_tuple(int(kGradSlow), slow);
}

void PointerTable::store_steps(double value) {
  for (size_t j = 0; j < step_addresses_.size(); ++j) {
    void* address = step_addresses_[j];
    if (!address) throw py::value_error("store_steps() needs a successful gather() with step tensors");
  }
  for (size_t j = 0; j < step_addresses_.size(); ++j) {
    if (step_is_double_[j]) *static_cast<double*>(step_addresses_[j]) = value;
    else *static_cast<float*>(step_addresses_[j]) = float(value);
  }
  step_ = value;
}

bool same_objects(py::handle a, py::handle b) {
  PyObject* const x = a.ptr();
  PyObject* const y = b.ptr();
  if (!(PyList_Check(x) || PyTuple_Check(x)) || !(PyList_Check(y) || PyTuple_Check(y)))
    throw py::type_error("same_objects compares lists or tuples");
  const Py_ssize_t n = PySequence_Fast_GET_SIZE(x);
  if (PySequence_Fast_GET_SIZE(y) != n) return false;
  PyObject** xs = PySequence_Fast_ITEMS(x);
  PyObject** ys = PySequence_Fast_ITEMS(y);
  for (Py_ssize_t i = 0; i < n; ++i)
    if (xs[i] != ys[i]) return false;
  return true;
}

py::object PointerTable::check(unsigned written, unsigned optional) {
  if (written == checked_written_) return py::none();
  for (int k = 0; k < list_.streams; ++k)
    if (!set_[size_t(k)] && !(optional >> k & 1u)) throw py::value_error("a required stream is not set");
  const int64_t itemsize = cpu::dtype_size(dtype_);
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
      .def("set_one", &PointerTable::set_one, py::arg("stream"), py::arg("j"), py::arg("address"))
      .def("watch", &PointerTable::watch, py::arg("params"), py::arg("dtype"), py::arg("strides"),
           py::arg("state"), py::arg("names"), py::arg("name_streams"), py::arg("held"),
           py::arg("step_dtypes"), py::arg("step"), py::arg("check_conj"),
           "Records the torch objects whose facts gather() re-checks at each step (see pointer_table.h).")
      .def("gather", &PointerTable::gather, py::arg("grad_stream"),
           "Re-checks every cached fact and sets the grads: None, (2, [j, ...]) for grads that need "
           "the slow path, or (reason, j): 1 no grad, 3 param changed, 4 state changed, 5 step changed.")
      .def("store_steps", &PointerTable::store_steps, py::arg("value"),
           "Writes the step count into every step tensor the last gather() checked.")
      .def("check", &PointerTable::check, py::arg("written"), py::arg("optional"),
           "None if an update writing the streams in the `written` mask may run, else the problem "
           "tuple (see gather.h). Kernel calls on the table run the same check (remembered).")
      .def_property_readonly("tensors", &PointerTable::tensors)
      .def_property_readonly("elements", [](const PointerTable& t) { return t.list().elements(); });
  m.def("same_objects", &same_objects, py::arg("a"), py::arg("b"),
        "Whether two lists or tuples hold the same objects in the same order (identity).");
}

}  // namespace pygd::bindings
