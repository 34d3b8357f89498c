#include "gather.h"

#include <pybind11/numpy.h>

#include <vector>

namespace pygd::bindings {
namespace {

using npy = py::detail::npy_api;
using py::detail::PyArray_Proxy;

struct Stream {
  PyObject* obj = nullptr;  // the argument itself
  bool bare = false;        // a single ndarray rather than a list
  Py_ssize_t length = 0;

  PyObject* at(Py_ssize_t i) const {
    if (bare) return obj;
    return PyList_Check(obj) ? PyList_GET_ITEM(obj, i) : PyTuple_GET_ITEM(obj, i);
  }
  Py_ssize_t index(Py_ssize_t i) const { return bare ? -1 : i; }
};

}  // namespace

bool is_array(PyObject* obj) { return npy::get().PyArray_Check_(obj); }

bool native_float(PyArray_Proxy* a, cpu::Dtype* dtype) {
  const auto* descr = py::detail::array_descriptor_proxy(a->descr);
  const bool native_order = descr->byteorder == '=' || descr->byteorder == '|' ||
                            descr->byteorder == (PY_BIG_ENDIAN ? '>' : '<');
  if (!native_order) return false;
  if (descr->type_num == npy::NPY_FLOAT_) *dtype = cpu::Dtype::kFloat32;
  else if (descr->type_num == npy::NPY_DOUBLE_) *dtype = cpu::Dtype::kFloat64;
  else return false;
  return true;
}

bool same_shape(PyArray_Proxy* a, PyArray_Proxy* b) {
  if (a->nd != b->nd) return false;
  for (int d = 0; d < a->nd; ++d)  // a loop, not std::equal: that becomes a memcmp call
    if (a->dimensions[d] != b->dimensions[d]) return false;
  return true;
}

int64_t element_count(PyArray_Proxy* a) {
  int64_t n = 1;
  for (int d = 0; d < a->nd; ++d) n *= a->dimensions[d];
  return n;
}

py::object problem(Problem p, int stream, Py_ssize_t index, int other_stream, Py_ssize_t other_index) {
  return py::make_tuple(int(p), stream, index, other_stream, other_index);
}

py::object find_overlap(std::vector<Span>& spans) {
  cpu::Overlap o;
  if (!cpu::find_overlap(spans, &o)) return py::none();
  return problem(Problem::kOverlap, o.stream, Py_ssize_t(o.index), o.other_stream, Py_ssize_t(o.other_index));
}

py::object gather(py::handle streams_arg, unsigned written, unsigned optional, cpu::TensorList& list,
                  cpu::Dtype& dtype, ArrayRefs& refs) {
  constexpr int kMaxStreams = 8;  // the most any Op has is 5
  const int count = int(PyTuple_GET_SIZE(streams_arg.ptr()));
  if (count < 1 || count > kMaxStreams) throw py::value_error("pygd._native: bad streams tuple");
  Stream streams[kMaxStreams];
  for (int k = 0; k < count; ++k) {
    PyObject* obj = PyTuple_GET_ITEM(streams_arg.ptr(), k);
    Stream& s = streams[k];
    s.obj = obj;
    if (obj == Py_None && (optional >> k & 1u)) continue;
    if (is_array(obj)) {
      s.bare = true;
      s.length = 1;
    } else if (PyList_Check(obj) || PyTuple_Check(obj)) {
      s.length = Py_SIZE(obj);
    } else {
      return problem(Problem::kNotSequence, k, -1);
    }
    if (k > 0 && s.length != streams[0].length) return problem(Problem::kLength, k, -1);
  }

  // One pass, stream by stream: check each array, record its pointer, and its span of memory.
  const Py_ssize_t n = streams[0].length;
  list.reset(count);
  list.pointers.assign(size_t(n) * count, nullptr);
  list.offsets.resize(size_t(n) + 1);
  refs.reserve(size_t(n) * count);
  thread_local std::vector<Span> spans;
  spans.clear();
  int64_t itemsize = 0;
  for (int k = 0; k < count; ++k) {
    const Stream& s = streams[k];
    if (s.obj == Py_None) continue;
    for (Py_ssize_t i = 0; i < n; ++i) {
      PyObject* obj = s.at(i);
      if (!is_array(obj)) return problem(Problem::kNotArray, k, s.index(i));
      auto* a = py::detail::array_proxy(obj);
      cpu::Dtype this_dtype;
      if (!native_float(a, &this_dtype)) return problem(Problem::kDtype, k, s.index(i));
      if (k == 0 && i == 0) {
        dtype = this_dtype;
        itemsize = dtype == cpu::Dtype::kFloat32 ? 4 : 8;
      }
      if (this_dtype != dtype) return problem(Problem::kDtypeMismatch, k, s.index(i));
      if (k > 0 && !same_shape(a, py::detail::array_proxy(streams[0].at(i))))
        return problem(Problem::kShape, k, s.index(i));
      if (!(a->flags & npy::NPY_ARRAY_C_CONTIGUOUS_)) return problem(Problem::kNotContiguous, k, s.index(i));
      if (!(a->flags & npy::NPY_ARRAY_ALIGNED_)) return problem(Problem::kMisaligned, k, s.index(i));
      const bool writes = written >> k & 1u;
      if (writes && !(a->flags & npy::NPY_ARRAY_WRITEABLE_)) return problem(Problem::kReadOnly, k, s.index(i));

      if (k == 0) list.offsets[size_t(i) + 1] = list.offsets[size_t(i)] + element_count(a);
      const int64_t size = list.offsets[size_t(i) + 1] - list.offsets[size_t(i)];
      list.pointers[size_t(i) * count + k] = a->data;
      refs.hold(obj);
      if (size > 0) {
        const auto begin = reinterpret_cast<uintptr_t>(a->data);
        spans.push_back({begin, begin + uintptr_t(size * itemsize), k, s.index(i), writes});
      }
    }
  }
  return find_overlap(spans);
}

}  // namespace pygd::bindings
