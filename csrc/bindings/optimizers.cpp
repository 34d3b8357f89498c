// One Python function per optimizer: argument plumbing only. Each takes the tuple of its streams (in
// the Op's Stream order), the step, and the hyperparameters positionally; returns None, or the
// problem tuple from gather() when an array is unfit (nothing has been written then).
#include <pybind11/pybind11.h>

#include "checked_run.h"
#include "register.h"

namespace pygd::bindings {

void register_optimizers(py::module_& m) {
  m.def("sgd", [](py::tuple streams, int64_t step, double lr, double momentum, double dampening,
                  double weight_decay, bool nesterov, bool maximize) {
    return checked_run<Sgd>(streams, step, {lr, momentum, dampening, weight_decay, nesterov, maximize});
  });
  m.def("adam", [](py::tuple streams, int64_t step, double lr, double beta1, double beta2, double eps,
                   double weight_decay, bool amsgrad, bool maximize, bool decoupled) {
    return checked_run<Adam>(streams, step,
                             {lr, beta1, beta2, eps, weight_decay, amsgrad, maximize, decoupled});
  });
  m.def("rmsprop", [](py::tuple streams, double lr, double alpha, double eps, double weight_decay,
                      double momentum, bool centered, bool maximize) {
    return checked_run<Rmsprop>(streams, 1, {lr, alpha, eps, weight_decay, momentum, centered, maximize});
  });
  m.def("adagrad", [](py::tuple streams, int64_t step, double lr, double lr_decay, double weight_decay,
                      double eps, bool maximize) {
    return checked_run<Adagrad>(streams, step, {lr, lr_decay, weight_decay, eps, maximize});
  });
  m.def("probe", [](py::tuple streams, double scale) {
    return checked_run<Probe>(streams, 1, {scale});
  }, "The bandwidth probe: target += scale * source (and extra1, extra2 likewise), in place.");
  // The checks alone, for callers that make several calls and must reject bad input before the first.
  m.def("check_sgd", &check<Sgd>);
  m.def("check_adam", &check<Adam>);
  m.def("check_rmsprop", &check<Rmsprop>);
  m.def("check_adagrad", &check<Adagrad>);
}

}  // namespace pygd::bindings
