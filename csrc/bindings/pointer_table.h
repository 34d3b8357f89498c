// A call's tensors as raw addresses, for callers that check dtypes, sizes and layouts themselves and
// reuse one table across steps. pygd.torch builds one per kernel call of a param group from the torch
// tensors' data_ptr(): the param and state streams are set once, the grads at each step, and the
// kernel runs on the tensors' own memory with no array object made per step.
//
// A table caches facts that torch lets a user change between steps (a tensor's storage, size, dtype,
// layout, the state dict's entries, the step count). watch() records the torch objects behind them,
// and gather() re-checks every one of them before each step's kernel may write; the list of facts
// and how each is re-checked is in pointer_table.cpp, above gather().
#pragma once
#include <pybind11/pybind11.h>

#include <string>
#include <vector>

#include "../cpu/parallel.h"

namespace pygd::bindings {

namespace py = pybind11;

class PointerTable {
 public:
  // `dtype` is the element type of every stream ("float32", "float64", "bfloat16" or "float16":
  // the narrow ones stored narrow and updated in float32); `sizes` are in those elements (a
  // complex64 tensor of n elements is 2n float32 elements).
  PointerTable(const std::string& dtype, const std::vector<int64_t>& sizes, int streams);

  // Sets stream `stream` to one address per tensor, or clears it (None: an absent optional stream).
  void set(int stream, py::object addresses);
  // Sets one tensor's address in `stream` (a grad read through the caller's slow path).
  void set_one(int stream, int64_t j, uintptr_t address);

  // What gather() checks at each step (see pointer_table.cpp):
  //  params      the list of torch tensors, one per table entry, whose memory is stream 0;
  //  dtype       the torch dtype every param, grad and state tensor must have;
  //  strides     per tensor, the param's strides (a tuple), which a grad must share to be read in
  //              place;
  //  state       the optimizer's state dict (param -> dict), or None to skip the dict lookups (the
  //              first step after a build, whose entries are not committed yet);
  //  names       the state names watched per param; `name_streams` gives each one's stream in the
  //              table, or -1 for "step", the 0-dim step tensor whose value must equal `step`;
  //  held        the state tensors, len(params) * len(names), params-major, kept alive by the table;
  //  step_dtypes the dtypes a step tensor may have (torch.float32, torch.float64);
  //  check_conj  whether conjugate and negative views must be refused (complex params).
  void watch(py::list params, py::object dtype, py::list strides, py::object state, py::tuple names,
             py::tuple name_streams, py::list held, py::tuple step_dtypes, double step, bool check_conj);

  // The step's check and gather: returns None when every fact holds and every grad was set;
  // (kGradSlow, [j, ...]) when every fact holds but those grads need the caller's slow path (a
  // copy, or torch's own update); or (reason, j) at the first tensor whose cached facts no longer
  // hold, for the caller to rebuild from scratch.
  enum GatherResult : int {
    kNoGrad = 1,         // a grad became None
    kGradSlow = 2,       // grads that are not contiguous like their param, or of another kind
    kParamChanged = 3,   // a param's address, size, dtype or layout changed
    kStateChanged = 4,   // a state entry was removed or replaced, or its storage/size/dtype changed
    kStepChanged = 5,    // a step tensor was replaced, moved, or holds another count
  };
  py::object gather(int grad_stream);

  // After a step's kernel: writes `value` into every step tensor the last gather() checked, and
  // makes it the count the next gather() expects.
  void store_steps(double value);

  // None if an update whose written streams are `written` may run on the table: every stream not in
  // `optional` is set, and no written buffer overlaps another buffer. Else the problem tuple of
  // gather.h (streams and indices as in the table). Remembers a success until set() changes an
  // address.
  py::object check(unsigned written, unsigned optional);

  const cpu::TensorList& list() const { return list_; }
  cpu::Layout layout() const { return cpu::plain_layout(dtype_); }
  int64_t tensors() const { return list_.tensors(); }

 private:
  // Sets tensor j's address in `stream`, forgetting the last overlap check if it changed.
  void assign(int stream, int64_t j, uintptr_t address);
  void mark_set(int stream);
  int64_t bytes(int64_t j) const;
  void* address(int stream, int64_t j) const { return list_.pointers[size_t(j * list_.streams + stream)]; }

  cpu::TensorList list_;
  cpu::Dtype dtype_;
  std::vector<bool> set_;
  unsigned checked_written_ = ~0u;  // the `written` mask of the last successful check, ~0: none

  // What watch() recorded.
  py::list params_, strides_, held_;
  py::object torch_dtype_, state_;
  py::tuple names_, step_dtypes_;
  std::vector<int> name_streams_;
  double step_ = 0;
  bool check_conj_ = false;
  bool watching_ = false;
  // The step tensors as watch() found them: address (null: unusable) and whether they hold a double.
  std::vector<void*> step_addresses_;
  std::vector<bool> step_is_double_;
  std::vector<Py_hash_t> hashes_;  // each param's hash, for its state lookup
};

// Whether two lists hold the same objects in the same order (identity, no __eq__): pygd.torch's test
// that a param group's "params" list was not edited in place.
bool same_objects(py::handle a, py::handle b);

void register_pointer_table(py::module_& m);

}  // namespace pygd::bindings
