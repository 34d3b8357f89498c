// pygd._native: the pybind11 module. Each area registers its own functions.
#include <pybind11/pybind11.h>

#include "register.h"

PYBIND11_MODULE(_native, m) {
  m.doc() = "pygd's native CPU kernels (see pygd/_backends/native.py for how Python calls them).";
  pygd::bindings::register_optimizers(m);
  pygd::bindings::register_gradients(m);
  pygd::bindings::register_pointer_table(m);
  pygd::bindings::register_runtime(m);
  pygd::bindings::register_constants(m);
}
