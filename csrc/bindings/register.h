#pragma once
#include <pybind11/pybind11.h>

namespace pygd::bindings {
namespace py = pybind11;
void register_optimizers(py::module_& m);
void register_runtime(py::module_& m);
void register_gradients(py::module_& m);
void register_pointer_table(py::module_& m);
void register_constants(py::module_& m);
void register_factored(py::module_& m);
}  // namespace pygd::bindings
