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

  // None if an update whose written streams are `written` may run on the table: every stream not in
  // `optional` is set, and no written buffer overlaps another buffer. Else the problem tuple of
  // gather.h (streams and indices as in the table). Remembers a success until the next set().
  py::object check(unsigned written, unsigned optional);

  const cpu::TensorList& list() const { return list_; }
  cpu::Dtype dtype() const { return dtype_; }
  int64_t tensors() const { return list_.tensors(); }

 private:
  cpu::TensorList list_;
  cpu::Dtype dtype_;
  std::vector<bool> set_;
  unsigned checked_written_ = ~0u;  // the `written` mask of the last successful check, ~0: none
};

void register_pointer_table(py::module_& m);

}  // namespace pygd::bindings
