#include "gather.h"

#include <pybind11/numpy.h>

#include <algorithm>
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

struct Span {
  uintptr_t begin, end;
  int stream;
  Py_ssize_t index;
  bool written;
};

py::object problem(Problem p, int stream, Py_ssize_t index, int other_stream = -1,
                   Py_ssize_t other_index = -1) {
  return py::make_tuple(int(p), stream, index, other_stream, other_index);
}

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
  return a->nd == b->nd && std::equal(a->dimensions, a->dimensions + a->nd, b->dimensions);
}

int64_t element_count(PyArray_Proxy* a) {
  int64_t n = 1;
  for (int d = 0; d < a->nd; ++d) n *= a->dimensions[d];
  return n;
}

// Sorts the non-empty buffers by address and reports the first overlap that involves a written
// buffer. Read-only streams (grads) may share memory with each other.
py::object find_overlap(std::vector<Span>& spans) {
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) {
    return a.begin != b.begin ? a.begin < b.begin
                              : (a.stream != b.stream ? a.stream < b.stream : a.index < b.index);
  });
  const Span* reach_any = nullptr;      // the span reaching furthest so far
  const Span* reach_written = nullptr;  // the written span reaching furthest so far
  for (const Span& s : spans) {
    const Span* hit = s.written ? reach_any : reach_written;
    if (hit && hit->end > s.begin) {
      const bool hit_first = hit->stream < s.stream || (hit->stream == s.stream && hit->index < s.index);
      const Span& a = hit_first ? *hit : s;
      const Span& b = hit_first ? s : *hit;
      return problem(Problem::kOverlap, a.stream, a.index, b.stream, b.index);
    }
    if (!reach_any || s.end > reach_any->end) reach_any = &s;
    if (s.written && (!reach_written || s.end > reach_written->end)) reach_written = &s;
  }
  return py::none();
}

}  // namespace

py::object gather(py::handle streams_arg, unsigned written, unsigned optional, cpu::TensorList& list,
                  cpu::Dtype& dtype, ArrayRefs& refs) {
  const int count = int(PyTuple_GET_SIZE(streams_arg.ptr()));
  Stream streams[8];
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

  const Py_ssize_t n = streams[0].length;
  list.reset(count);
  for (int k = 0; k < count; ++k) {
    const Stream& s = streams[k];
    if (!s.obj || s.obj == Py_None) continue;
    for (Py_ssize_t i = 0; i < n; ++i) {
      PyObject* obj = s.at(i);
      if (!is_array(obj)) return problem(Problem::kNotArray, k, s.index(i));
      auto* a = py::detail::array_proxy(obj);
      cpu::Dtype this_dtype;
      if (!native_float(a, &this_dtype)) return problem(Problem::kDtype, k, s.index(i));
      if (k == 0 && i == 0) dtype = this_dtype;
      if (this_dtype != dtype) return problem(Problem::kDtypeMismatch, k, s.index(i));
      if (k > 0 && !same_shape(a, py::detail::array_proxy(streams[0].at(i))))
        return problem(Problem::kShape, k, s.index(i));
      if (!(a->flags & npy::NPY_ARRAY_C_CONTIGUOUS_)) return problem(Problem::kNotContiguous, k, s.index(i));
      if (!(a->flags & npy::NPY_ARRAY_ALIGNED_)) return problem(Problem::kMisaligned, k, s.index(i));
      if ((written >> k & 1u) && !(a->flags & npy::NPY_ARRAY_WRITEABLE_))
        return problem(Problem::kReadOnly, k, s.index(i));
    }
  }

  // Pointers tensor by tensor, and the spans for the overlap check.
  thread_local std::vector<Span> spans;
  spans.clear();
  const int64_t itemsize = dtype == cpu::Dtype::kFloat32 ? 4 : 8;
  for (Py_ssize_t i = 0; i < n; ++i) {
    const int64_t size = element_count(py::detail::array_proxy(streams[0].at(i)));
    for (int k = 0; k < count; ++k) {
      const Stream& s = streams[k];
      void* data = nullptr;
      if (s.obj != Py_None) {
        PyObject* array = s.at(i);
        refs.hold(array);
        data = py::detail::array_proxy(array)->data;
        if (size > 0) {
          const auto begin = reinterpret_cast<uintptr_t>(data);
          spans.push_back({begin, begin + uintptr_t(size * itemsize), k, s.index(i), bool(written >> k & 1u)});
        }
      }
      list.pointers.push_back(data);
    }
    list.offsets.push_back(list.offsets.back() + size);
  }
  return find_overlap(spans);
}

}  // namespace pygd::bindings
