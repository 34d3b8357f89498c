// A Config from Python, by its field names (each Config's `fields`, csrc/include/pygd/hparams.h):
// `hparams` is a tuple in the order of field_names<Config>() (what pygd/_specs.py builds from the
// names the module exports) or a mapping holding exactly those names. Shared by the native module
// and the CUDA module.
#pragma once
#include <pybind11/pybind11.h>

#include <string>
#include <type_traits>
#include <vector>

namespace pygd::bindings {

namespace py = pybind11;

template <class Config>
std::vector<std::string> field_names() {
  std::vector<std::string> names;
  Config probe{};
  Config::fields(probe, [&](const char* name, auto&) { names.emplace_back(name); });
  return names;
}

// The names as a Python tuple: what the modules export as `hyperparameters[name]`.
template <class Config>
py::tuple field_name_tuple() {
  const std::vector<std::string> names = field_names<Config>();
  py::tuple out(names.size());
  for (size_t i = 0; i < names.size(); ++i) out[i] = py::str(names[i]);
  return out;
}

namespace detail {

template <class Field>
void read_field(const char* config, const char* name, PyObject* value, Field& out) {
  if constexpr (std::is_same_v<Field, bool>) {
    const int truth = PyObject_IsTrue(value);
    if (truth < 0) throw py::error_already_set();
    out = truth != 0;
  } else {
    if (PyBool_Check(value) || !PyNumber_Check(value))
      throw py::type_error(std::string(config) + " hyperparameter " + name + " must be a real number, got " +
                           Py_TYPE(value)->tp_name);
    out = PyFloat_AsDouble(value);
    if (out == -1.0 && PyErr_Occurred()) throw py::error_already_set();
  }
}

}  // namespace detail

template <class Config>
Config config_from(py::handle hparams, const char* optimizer) {
  Config config{};
  static const std::vector<std::string> names = field_names<Config>();
  if (PyTuple_Check(hparams.ptr())) {
    if (size_t(PyTuple_GET_SIZE(hparams.ptr())) != names.size())
      throw py::value_error(std::string("hparams of ") + optimizer + " must have " +
                            std::to_string(names.size()) + " items, got " +
                            std::to_string(PyTuple_GET_SIZE(hparams.ptr())));
    Py_ssize_t i = 0;
    Config::fields(config, [&](const char* name, auto& field) {
      detail::read_field(optimizer, name, PyTuple_GET_ITEM(hparams.ptr(), i++), field);
    });
    return config;
  }
  if (!PyDict_Check(hparams.ptr()))
    throw py::type_error(std::string("hparams of ") + optimizer + " must be a tuple or a dict");
  if (size_t(PyDict_Size(hparams.ptr())) != names.size())
    throw py::value_error(std::string("hparams of ") + optimizer + " must name exactly its " +
                          std::to_string(names.size()) + " hyperparameters");
  Config::fields(config, [&](const char* name, auto& field) {
    PyObject* value = PyDict_GetItemString(hparams.ptr(), name);
    if (!value) throw py::value_error(std::string("hparams of ") + optimizer + " lack " + name);
    detail::read_field(optimizer, name, value, field);
  });
  return config;
}

}  // namespace pygd::bindings
