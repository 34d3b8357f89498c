// A call's tensors as raw addresses, for callers that check dtypes, sizes and layouts themselves and
// reuse one table across steps. pygd.torch builds one per param group from the torch tensors'
// data_ptr(): the state streams are set once, the grads at each step, and the kernel runs on the
// tensors' own memory with no array object made per step.
#pragma once
#include <pybind11/pybind11.h>

#include <string>
#include <vector>

#include "../cpu/parallel.h"

namespace pygd::bindings {

namespace py = pybind11;

class PointerTable {
 public:
  PointerTable(const std::string& dtype, const std::vector<int64_t>& sizes, int streams);

  // Sets stream `stream` to one address per tensor, or clears it (None: an absent optional stream).
  void set(int stream, py::object addresses);

  // The fast path of pygd.torch's step: for each tensor j, reads params[j].grad and sets its address
  // as stream `grad_stream`, checking that the grad is contiguous and that params[j] still has the
  // address in stream 0. If `state` (a dict: param -> dict of state) is given, also checks that
  // state[params[j]][names[i]] is still the object held[j * len(names) + i], so that state edited or
  // replaced since the table was built is noticed (the table would write the old tensors).
  // Uses only the torch.Tensor protocol (.grad, .data_ptr(), .is_contiguous()), so one C++ loop
  // replaces several Python ones. Returns None, or (reason, j) at the first tensor that needs the
  // caller's slow path: kNoGrad, kGradNotContiguous (also: any error the grad's methods raised,
  // e.g. for a sparse grad), kParamMoved or kStateChanged.
  enum GatherFailure : int { kNoGrad = 1, kGradNotContiguous = 2, kParamMoved = 3, kStateChanged = 4 };
  py::object gather_grads(py::handle params, int grad_stream, py::handle state, py::handle names,
                          py::handle held);

  // None if an update whose written streams are `written` may run on the table: every stream not in
  // `optional` is set, and no written buffer overlaps another buffer. Else the problem tuple of
  // gather.h (streams and indices as in the table). Remembers a success until set() changes an
  // address.
  py::object check(unsigned written, unsigned optional);

  const cpu::TensorList& list() const { return list_; }
  cpu::Dtype dtype() const { return dtype_; }
  int64_t tensors() const { return list_.tensors(); }

 private:
  // Sets tensor j's address in `stream`, forgetting the last overlap check if it changed.
  void assign(int stream, int64_t j, uintptr_t address);
  void mark_set(int stream);

  cpu::TensorList list_;
  cpu::Dtype dtype_;
  std::vector<bool> set_;
  unsigned checked_written_ = ~0u;  // the `written` mask of the last successful check, ~0: none
};

void register_pointer_table(py::module_& m);

}  // namespace pygd::bindings
