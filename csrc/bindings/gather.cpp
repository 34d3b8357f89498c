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

int g_bfloat16_type = -1;
constexpr int kNpyHalf = 23;  // NPY_HALF

// A native-endian float32, float64, float16 or (ml_dtypes) bfloat16 array's dtype.
bool native_float(PyArray_Proxy* a, cpu::Dtype* dtype) {
  const auto* descr = py::detail::array_descriptor_proxy(a->descr);
  const bool native_order = descr->byteorder == '=' || descr->byteorder == '|' ||
                            descr->byteorder == (PY_BIG_ENDIAN ? '>' : '<');
  if (!native_order) return false;
  if (descr->type_num == npy::NPY_FLOAT_) *dtype = cpu::Dtype::kFloat32;
  else if (descr->type_num == npy::NPY_DOUBLE_) *dtype = cpu::Dtype::kFloat64;
  else if (descr->type_num == kNpyHalf) *dtype = cpu::Dtype::kFloat16;
  else if (g_bfloat16_type >= 0 && descr->type_num == g_bfloat16_type) *dtype = cpu::Dtype::kBFloat16;
  else return false;
  return true;
}

bool is_narrow(cpu::Dtype d) { return d == cpu::Dtype::kBFloat16 || d == cpu::Dtype::kFloat16; }

// The dtypes a layout gives the params, grads, states and copy (kNone: no copy in the layout, so
// a copy stream fits none).
constexpr cpu::Dtype kNone = static_cast<cpu::Dtype>(-1);
struct LayoutDtypes {
  cpu::Dtype param, grad, state, copy;
};

LayoutDtypes dtypes_of(cpu::Layout l) {
  using D = cpu::Dtype;
  using L = cpu::Layout;
  switch (l) {
    case L::kFloat64: return {D::kFloat64, D::kFloat64, D::kFloat64, kNone};
    case L::kBFloat16: return {D::kBFloat16, D::kBFloat16, D::kBFloat16, kNone};
    case L::kFloat16: return {D::kFloat16, D::kFloat16, D::kFloat16, kNone};
    case L::kBFloat16Params: return {D::kBFloat16, D::kBFloat16, D::kFloat32, kNone};
    case L::kFloat16Params: return {D::kFloat16, D::kFloat16, D::kFloat32, kNone};
    case L::kBFloat16Copy: return {D::kFloat32, D::kFloat32, D::kFloat32, D::kBFloat16};
    case L::kFloat16Copy: return {D::kFloat32, D::kFloat32, D::kFloat32, D::kFloat16};
    case L::kBFloat16CopyGrads: return {D::kFloat32, D::kBFloat16, D::kFloat32, D::kBFloat16};
    case L::kFloat16CopyGrads: return {D::kFloat32, D::kFloat16, D::kFloat32, D::kFloat16};
    default: return {D::kFloat32, D::kFloat32, D::kFloat32, kNone};
  }
}

// The layout that the first arrays' dtypes (each known, or not: `known`) ask for; where they fit
// none, the one their params (and copy) ask for, whose dtypes the arrays are then checked against.
cpu::Layout choose_layout(const cpu::Dtype* first, const bool* known, int count, int op_streams) {
  using D = cpu::Dtype;
  using L = cpu::Layout;
  if (!known[0]) return L::kFloat32;
  const D p = first[0];
  const bool copy = count > op_streams && known[op_streams] && is_narrow(first[op_streams]);
  if (copy) {
    const bool bf = first[op_streams] == D::kBFloat16;
    const bool narrow_grads = count > 1 && known[1] && first[1] == first[op_streams];
    if (narrow_grads) return bf ? L::kBFloat16CopyGrads : L::kFloat16CopyGrads;
    return bf ? L::kBFloat16Copy : L::kFloat16Copy;
  }
  if (!is_narrow(p)) return cpu::plain_layout(p);
  for (int k = 2; k < op_streams && k < count; ++k) {
    if (!known[k]) continue;
    if (first[k] == D::kFloat32) return p == D::kBFloat16 ? L::kBFloat16Params : L::kFloat16Params;
    break;
  }
  return cpu::plain_layout(p);
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

namespace {

// Both entry points: op_streams < 0 for an Op that takes float32 and float64 only.
py::object gather_streams(py::handle streams_arg, unsigned written, unsigned optional, int op_streams,
                          cpu::TensorList& list, cpu::Layout& layout, ArrayRefs& refs) {
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

  // The layout the first array of each stream asks for (cheap: one dtype read per stream); every
  // array is then held to its stream's dtype in that layout.
  const bool every_layout = op_streams >= 0;
  if (every_layout && count > op_streams + 1) throw py::value_error("pygd._native: bad streams tuple");
  const bool with_copy = every_layout && count == op_streams + 1;
  if (with_copy) written |= 1u << op_streams;
  cpu::Dtype first[kMaxStreams];
  bool known[kMaxStreams] = {};
  for (int k = 0; k < count; ++k) {
    const Stream& s = streams[k];
    if (s.obj == Py_None || s.length == 0) continue;
    PyObject* obj = s.at(0);
    if (is_array(obj)) known[k] = native_float(py::detail::array_proxy(obj), &first[k]);
  }
  layout = every_layout ? choose_layout(first, known, count, op_streams) : cpu::Layout::kFloat32;
  if (!every_layout && known[0] && first[0] == cpu::Dtype::kFloat64) layout = cpu::Layout::kFloat64;
  const LayoutDtypes want = dtypes_of(layout);
  auto expected = [&](int k) {
    return k == 0 ? want.param : k == 1 && every_layout ? want.grad
           : with_copy && k == op_streams ? want.copy : every_layout ? want.state : want.param;
  };

  // One pass, stream by stream: check each array, record its pointer, and its span of memory.
  const Py_ssize_t n = streams[0].length;
  list.reset(count);
  list.pointers.assign(size_t(n) * count, nullptr);
  list.offsets.resize(size_t(n) + 1);
  refs.reserve(size_t(n) * count);
  thread_local std::vector<Span> spans;
  spans.clear();
  for (int k = 0; k < count; ++k) {
    const Stream& s = streams[k];
    if (s.obj == Py_None) continue;
    for (Py_ssize_t i = 0; i < n; ++i) {
      PyObject* obj = s.at(i);
      if (!is_array(obj)) return problem(Problem::kNotArray, k, s.index(i));
      auto* a = py::detail::array_proxy(obj);
      cpu::Dtype this_dtype;
      if (!native_float(a, &this_dtype) || (!every_layout && is_narrow(this_dtype)))
        return problem(Problem::kDtype, k, s.index(i));
      if (this_dtype != expected(k)) return problem(Problem::kDtypeMismatch, k, s.index(i));
      const int64_t itemsize = cpu::dtype_size(this_dtype);
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

}  // namespace

py::object gather(py::handle streams, unsigned written, unsigned optional, cpu::TensorList& list,
                  cpu::Dtype& dtype, ArrayRefs& refs) {
  cpu::Layout layout = cpu::Layout::kFloat32;
  py::object result = gather_streams(streams, written, optional, -1, list, layout, refs);
  dtype = layout == cpu::Layout::kFloat64 ? cpu::Dtype::kFloat64 : cpu::Dtype::kFloat32;
  return result;
}

py::object gather_layout(py::handle streams, unsigned written, unsigned optional, int op_streams,
                         cpu::TensorList& list, cpu::Layout& layout, ArrayRefs& refs) {
  return gather_streams(streams, written, optional, op_streams, list, layout, refs);
}

void set_bfloat16_type(int type_num) { g_bfloat16_type = type_num; }

}  // namespace pygd::bindings
