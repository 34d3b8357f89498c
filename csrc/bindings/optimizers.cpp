// One Python function per optimizer: argument plumbing only. Each takes its streams (a tuple of
// arrays in the Op's Stream order, or a PointerTable), the step, the hyperparameters, and GradScaler's
// loss scale (1: none); returns None, or the problem tuple from gather() when an array is unfit
// (nothing has been written then).
#include <pybind11/pybind11.h>

#include "checked_run.h"
#include "register.h"

namespace pygd::bindings {

using namespace pybind11::literals;

void register_optimizers(py::module_& m) {
  m.def("sgd", [](py::object streams, int64_t step, double lr, double momentum, double dampening,
                  double weight_decay, bool nesterov, bool maximize, double grad_scale) {
    return optimizer_run<Sgd>(streams, step, {lr, momentum, dampening, weight_decay, nesterov, maximize},
                              grad_scale);
  }, "streams"_a, "step"_a, "lr"_a, "momentum"_a, "dampening"_a, "weight_decay"_a, "nesterov"_a,
     "maximize"_a, "grad_scale"_a = 1.0);
  m.def("adam", [](py::object streams, int64_t step, double lr, double beta1, double beta2, double eps,
                   double weight_decay, bool amsgrad, bool maximize, bool decoupled, double grad_scale) {
    return optimizer_run<Adam>(streams, step, {lr, beta1, beta2, eps, weight_decay, amsgrad, maximize, decoupled},
                               grad_scale);
  }, "streams"_a, "step"_a, "lr"_a, "beta1"_a, "beta2"_a, "eps"_a, "weight_decay"_a, "amsgrad"_a,
     "maximize"_a, "decoupled"_a, "grad_scale"_a = 1.0);
  m.def("rmsprop", [](py::object streams, double lr, double alpha, double eps, double weight_decay,
                      double momentum, bool centered, bool maximize, double grad_scale) {
    return optimizer_run<Rmsprop>(streams, 1, {lr, alpha, eps, weight_decay, momentum, centered, maximize},
                                  grad_scale);
  }, "streams"_a, "lr"_a, "alpha"_a, "eps"_a, "weight_decay"_a, "momentum"_a, "centered"_a, "maximize"_a,
     "grad_scale"_a = 1.0);
  m.def("adagrad", [](py::object streams, int64_t step, double lr, double lr_decay, double weight_decay,
                      double eps, bool maximize, double grad_scale) {
    return optimizer_run<Adagrad>(streams, step, {lr, lr_decay, weight_decay, eps, maximize}, grad_scale);
  }, "streams"_a, "step"_a, "lr"_a, "lr_decay"_a, "weight_decay"_a, "eps"_a, "maximize"_a,
     "grad_scale"_a = 1.0);
  m.def("probe", [](py::tuple streams, double scale) {
    return checked_run<Probe>(streams, 1, {scale});
  }, "The bandwidth probe: target += scale * source (and extra1, extra2 likewise), in place.");
  // Each optimizer's (written, optional) stream masks, for callers that check a PointerTable ahead
  // of a call (PointerTable.check).
  py::dict masks;
  masks["sgd"] = py::make_tuple(Sgd::kWritten, Sgd::kOptional);
  masks["adam"] = py::make_tuple(Adam::kWritten, Adam::kOptional);
  masks["rmsprop"] = py::make_tuple(Rmsprop::kWritten, Rmsprop::kOptional);
  masks["adagrad"] = py::make_tuple(Adagrad::kWritten, Adagrad::kOptional);
  m.attr("stream_masks") = masks;
  // The checks alone, for callers that make several calls and must reject bad input before the first.
  m.def("check_sgd", &check<Sgd>);
  m.def("check_adam", &check<Adam>);
  m.def("check_rmsprop", &check<Rmsprop>);
  m.def("check_adagrad", &check<Adagrad>);
}

}  // namespace pygd::bindings
