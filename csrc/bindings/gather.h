// Turns the Python arguments of one call into a TensorList, checking every array first. The checks
// mirror pygd/_validate.py (check_streams): a failure is reported as a small tuple that
// pygd/_validate.py turns into the TypeError or ValueError the user sees, so every message is
// written once, in Python, while the hot path stays in C++.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <vector>

#include "../cpu/overlap.h"
#include "../cpu/parallel.h"

namespace pygd::bindings {

namespace py = pybind11;

// Codes shared with pygd/_validate.py (BufferProblem); keep the two lists in step.
enum class Problem : int {
  kNotSequence = 1,    // a stream is neither an ndarray nor a list/tuple (nor an optional None)
  kLength = 2,         // a stream's list length differs from params'
  kNotArray = 3,       // an element is not an ndarray
  kDtype = 4,          // not native-endian float32/float64
  kDtypeMismatch = 5,  // differs from params[0]'s dtype
  kShape = 6,          // differs from the matching param's shape
  kNotContiguous = 7,
  kMisaligned = 8,
  kReadOnly = 9,  // a stream the update writes is read-only
  kOverlap = 10,  // two arrays share memory and at least one of them is written
};

// The problem tuple pygd/_validate.py reads: (problem, stream, index, other_stream, other_index).
py::object problem(Problem p, int stream, Py_ssize_t index, int other_stream = -1, Py_ssize_t other_index = -1);

// The array checks gather() makes, for entry points whose streams differ in shape (Adafactor's).
bool is_array(PyObject* obj);
// Whether `a` is a native-endian float32 or float64 array, and which (into *dtype).
bool native_float(py::detail::PyArray_Proxy* a, cpu::Dtype* dtype);
bool same_shape(py::detail::PyArray_Proxy* a, py::detail::PyArray_Proxy* b);
int64_t element_count(py::detail::PyArray_Proxy* a);

// One buffer of a call (csrc/cpu/overlap.h, the check every entry point shares).
using cpu::Span;

// The first overlap, in address order, that involves a written buffer, as a kOverlap problem tuple,
// or None. Read-only streams (grads) may share memory with each other. `spans` holds the non-empty
// buffers, stream by stream (it is sorted in place).
py::object find_overlap(std::vector<Span>& spans);

// Strong references to the arrays of a call while its kernel runs without the GIL: another Python
// thread may empty the user's lists meanwhile, and the memory must outlive the kernel. Small calls
// keep them inline, without a heap allocation.
class ArrayRefs {
 public:
  ArrayRefs() = default;
  ArrayRefs(const ArrayRefs&) = delete;
  ArrayRefs& operator=(const ArrayRefs&) = delete;
  ~ArrayRefs() {  // runs with the GIL held
    for (size_t i = 0; i < count_; ++i) Py_DECREF(at(i));
  }
  void reserve(size_t n) {
    if (n > kInline) overflow_.reserve(n - kInline);
  }
  void hold(PyObject* obj) {
    Py_INCREF(obj);
    if (count_ < kInline) inline_[count_] = obj;
    else overflow_.push_back(obj);
    ++count_;
  }

 private:
  static constexpr size_t kInline = 32;
  PyObject* at(size_t i) const { return i < kInline ? inline_[i] : overflow_[i - kInline]; }
  PyObject* inline_[kInline];
  std::vector<PyObject*> overflow_;
  size_t count_ = 0;
};

// `streams` is a tuple with one item per Op stream: an ndarray, a list/tuple of ndarrays, or None
// for an absent optional stream. `written` and `optional` are the Op's kWritten and kOptional. On success fills `list`,
// `dtype` and `refs`, and returns None; otherwise returns (problem, stream, index, other_stream,
// other_index), index -1 meaning the stream was a bare array. Every array is float32, or every one
// float64 (a narrow dtype is a kDtype problem here).
py::object gather(py::handle streams, unsigned written, unsigned optional, cpu::TensorList& list,
                  cpu::Dtype& dtype, ArrayRefs& refs);

// The same for an Op that takes every Layout (cpu/sweeps.h: the optimizers and the probe), whose
// `op_streams` streams may be followed by one more, the param copy of a (C) layout (written). The
// streams' dtypes must form one of the layouts: the first array whose dtype does not is a
// kDtypeMismatch problem (kDtype where it is no float pygd knows).
py::object gather_layout(py::handle streams, unsigned written, unsigned optional, int op_streams,
                         cpu::TensorList& list, cpu::Layout& layout, ArrayRefs& refs);

// The numpy type number of ml_dtypes.bfloat16 (registered by pygd/_backends/native.py when
// ml_dtypes is installed; -1: none).
void set_bfloat16_type(int type_num);

}  // namespace pygd::bindings
