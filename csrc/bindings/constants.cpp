// The codes the bindings return, by name, so that Python reads them instead of restating them
// (pygd/_constants.py): `problems` (gather.h's Problem: what is wrong with a call's arrays),
// `norm_kinds` (grad_norms.h's NormKind), `gather_results` (PointerTable::GatherResult); and the
// size from which a call writes its unread streams around the cache (parallel.h), for the tests.
#include <pybind11/pybind11.h>

#include "../cpu/parallel.h"
#include "gather.h"
#include "pointer_table.h"
#include "pygd/grad_norms.h"
#include "register.h"

namespace pygd::bindings {

void register_constants(py::module_& m) {
  py::dict problems;
  problems["NOT_SEQUENCE"] = int(Problem::kNotSequence);
  problems["LENGTH"] = int(Problem::kLength);
  problems["NOT_ARRAY"] = int(Problem::kNotArray);
  problems["DTYPE"] = int(Problem::kDtype);
  problems["DTYPE_MISMATCH"] = int(Problem::kDtypeMismatch);
  problems["SHAPE"] = int(Problem::kShape);
  problems["NOT_CONTIGUOUS"] = int(Problem::kNotContiguous);
  problems["MISALIGNED"] = int(Problem::kMisaligned);
  problems["READ_ONLY"] = int(Problem::kReadOnly);
  problems["OVERLAP"] = int(Problem::kOverlap);
  m.attr("problems") = problems;

  py::dict norm_kinds;
  norm_kinds["L2"] = int(NormKind::kL2);
  norm_kinds["L1"] = int(NormKind::kL1);
  norm_kinds["INF"] = int(NormKind::kInf);
  norm_kinds["POWER"] = int(NormKind::kPower);
  m.attr("norm_kinds") = norm_kinds;

  py::dict results;
  results["NO_GRAD"] = int(PointerTable::kNoGrad);
  results["GRAD_SLOW"] = int(PointerTable::kGradSlow);
  results["PARAM_CHANGED"] = int(PointerTable::kParamChanged);
  results["STATE_CHANGED"] = int(PointerTable::kStateChanged);
  results["STEP_CHANGED"] = int(PointerTable::kStepChanged);
  m.attr("gather_results") = results;

  m.attr("streaming_store_bytes") = cpu::kStreamingStoreBytes;
}

}  // namespace pygd::bindings
