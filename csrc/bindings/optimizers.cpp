// One Python function per optimizer: argument plumbing only. Each takes its streams (a tuple of
// arrays in the Op's Stream order, or a PointerTable), the step (RMSprop's update ignores it), the
// hyperparameters by the names of its Config's fields (config_fields.h; `hyperparameters[name]`
// lists them, in the order a tuple gives them), and GradScaler's loss scale (1: none); returns
// None, or the problem tuple from gather() when an array is unfit (nothing has been written then).
#include <pybind11/pybind11.h>

#include "../cpu/trust.h"
#include "checked_run.h"
#include "config_fields.h"
#include "register.h"

namespace pygd::bindings {

using namespace pybind11::literals;

namespace {

// Op::kName(streams, step, hparams, grad_scale=1), hparams as config_from<Op::Config> reads them;
// check_<name>(streams), the checks alone (for callers that make several calls and must reject bad
// input before the first); and its (written, optional) stream masks, for callers that check a
// PointerTable ahead of a call (PointerTable.check).
template <class Op>
void register_optimizer(py::module_& m) {
  const char* name = Op::kName;
  m.def(name, [name](py::object streams, int64_t step, py::handle hparams, double grad_scale) {
    return optimizer_run<Op>(streams, step, config_from<typename Op::Config>(hparams, name), grad_scale);
  }, "streams"_a, "step"_a, "hparams"_a, "grad_scale"_a = 1.0);
  m.def(("check_" + std::string(name)).c_str(), &check<Op>);
  m.attr("hyperparameters")[name] = field_name_tuple<typename Op::Config>();
  m.attr("stream_masks")[name] = py::make_tuple(Op::kWritten, Op::kOptional);
}

// The trust-ratio optimizers (pygd/trust_ratio.h): Op::kName(streams, step, hparams) over a tuple
// of arrays (no PointerTable, no loss scale: pygd.torch has no class that runs them), its check_
// and its masks, as above.
template <class Op>
void register_trust_optimizer(py::module_& m) {
  const char* name = Op::kName;
  m.def(name, [name](py::tuple streams, int64_t step, py::handle hparams) -> py::object {
    const auto config = config_from<typename Op::Config>(hparams, name);
    thread_local cpu::TensorList list;
    cpu::Dtype dtype = cpu::Dtype::kFloat32;
    ArrayRefs refs;
    py::object problem = gather(streams, Op::kWritten, Op::kOptional, list, dtype, refs);
    if (!problem.is_none()) return problem;
    if (list.elements() >= kReleaseGilFrom) {
      py::gil_scoped_release release;
      cpu::run_trust<Op>(config, step, dtype, list);
    } else if (list.elements() > 0) {
      cpu::run_trust<Op>(config, step, dtype, list);
    }
    return py::none();
  }, "streams"_a, "step"_a, "hparams"_a);
  m.def(("check_" + std::string(name)).c_str(), &check<Op>);
  m.attr("hyperparameters")[name] = field_name_tuple<typename Op::Config>();
  m.attr("stream_masks")[name] = py::make_tuple(Op::kWritten, Op::kOptional);
}

}  // namespace

void register_optimizers(py::module_& m) {
  m.attr("hyperparameters") = py::dict();
  m.attr("stream_masks") = py::dict();
  Optimizers::for_each([&m](auto op) { register_optimizer<decltype(op)>(m); });
  TrustRatioOptimizers::for_each([&m](auto op) { register_trust_optimizer<decltype(op)>(m); });
  register_factored(m);  // Adafactor (factored.cpp)
  m.def("set_bfloat16_type", &set_bfloat16_type,
        "The numpy type number of ml_dtypes.bfloat16, whose arrays the optimizers then take (-1: none).");
  m.def("probe", [](py::tuple streams, double scale) {
    return checked_run<Probe>(streams, 1, {scale});
  }, "The bandwidth probe: target += scale * source (and extra1, extra2 likewise), in place.");
}

}  // namespace pygd::bindings
