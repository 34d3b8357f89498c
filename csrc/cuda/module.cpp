// pygd._cuda: the pybind11 module over the CUDA kernels. Argument plumbing only: the Python side
// (pygd/_backends/cuda.py) has validated the arrays; this checks only the structure of the call
// (stream count, list lengths, which streams may be absent), then enqueues the update, without the
// GIL, and raises RuntimeError for anything CUDA reports.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "../bindings/config_fields.h"
#include "call.h"

namespace py = pybind11;

namespace pygd::cuda {
namespace {

Dtype parse_dtype(const std::string& name) {
  if (name == "float32") return Dtype::kFloat32;
  if (name == "float64") return Dtype::kFloat64;
  if (name == "float16") return Dtype::kFloat16;
  if (name == "bfloat16") return Dtype::kBFloat16;
  throw py::value_error("dtype must be one of float32, float64, float16, bfloat16, got '" + name + "'");
}

// The streams tuple (one list of device addresses per Op stream, or None where the stream is
// optional) as the tensor-major pointer table of Call.
template <class Op>
std::vector<void*> pointer_table(const py::tuple& streams, size_t tensors) {
  if (streams.size() != size_t(Op::kStreams))
    throw py::value_error("streams must have " + std::to_string(Op::kStreams) + " items, got " +
                          std::to_string(streams.size()));
  std::vector<void*> pointers(tensors * Op::kStreams, nullptr);
  for (int k = 0; k < Op::kStreams; ++k) {
    if (streams[k].is_none()) {
      if (!(Op::kOptional >> k & 1u)) throw py::value_error("streams[" + std::to_string(k) + "] is required");
      continue;
    }
    const auto addresses = streams[k].cast<std::vector<uintptr_t>>();
    if (addresses.size() != tensors)
      throw py::value_error("streams[" + std::to_string(k) + "] has " + std::to_string(addresses.size()) +
                            " addresses for " + std::to_string(tensors) + " sizes");
    for (size_t j = 0; j < tensors; ++j) pointers[j * Op::kStreams + k] = reinterpret_cast<void*>(addresses[j]);
  }
  return pointers;
}

template <class Op>
void run(const char* optimizer, const py::object& hparams, const std::vector<int64_t>& sizes,
         const py::tuple& streams, Call call) {
  const auto config = bindings::config_from<typename Op::Config>(hparams, optimizer);
  const std::vector<void*> pointers = pointer_table<Op>(streams, sizes.size());
  int64_t elements = 0;
  for (int64_t size : sizes) {
    if (size < 0) throw py::value_error("sizes must be >= 0");
    elements += size;
  }
  if (elements == 0) return;  // nothing to enqueue, so no device to ask for
  call.tensors = int64_t(sizes.size());
  call.streams = Op::kStreams;
  call.sizes = sizes.data();
  call.pointers = pointers.data();
  std::string error;
  {
    py::gil_scoped_release release;
    error = launch<Op>(config, call);
  }
  if (!error.empty()) throw std::runtime_error("pygd._cuda: " + error);
}

void launch_call(const std::string& optimizer, const std::string& dtype, const std::vector<int64_t>& sizes,
                 const py::tuple& streams, const py::object& step, uintptr_t step_ptr,
                 const py::object& hparams, uintptr_t grad_scale_ptr, uintptr_t found_inf_ptr,
                 uintptr_t stream, int device, const std::vector<uintptr_t>& wait_for) {
  Call call;
  call.dtype = parse_dtype(dtype);
  call.device = device;
  call.stream = stream;
  call.step_count = reinterpret_cast<const float*>(step_ptr);
  call.grad_scale = reinterpret_cast<const float*>(grad_scale_ptr);
  call.found_inf = reinterpret_cast<const float*>(found_inf_ptr);
  call.wait_for = wait_for.data();
  call.waits = int64_t(wait_for.size());
  if (!step.is_none()) call.step = step.cast<int64_t>();
  else if (!step_ptr)
    throw py::value_error(optimizer + " needs a step: an int, or step_ptr (a device float32 step count)");
  if (call.step < 1) throw py::value_error("step must be >= 1, got " + std::to_string(call.step));

  bool found = false;
  std::string names;
  Optimizers::for_each([&](auto op) {
    using Op = decltype(op);
    names += (names.empty() ? "" : ", ") + std::string(Op::kName);
    if (!found && optimizer == Op::kName) {
      found = true;
      run<Op>(Op::kName, hparams, sizes, streams, call);
    }
  });
  // The trust-ratio optimizers (pygd/trust_ratio.h: a per-tensor reduction, then the update) have
  // no CUDA driver yet: refused by name, so the message says so rather than "unknown".
  TrustRatioOptimizers::for_each([&](auto op) {
    using Op = decltype(op);
    if (!found && optimizer == Op::kName)
      throw py::value_error(std::string("pygd._cuda has no kernel for ") + Op::kName +
                            " (a trust-ratio optimizer: its per-tensor norms need a reduction before the "
                            "update); run it on the CPU");
  });
  if (!found) throw py::value_error("optimizer must be one of " + names + ", got '" + optimizer + "'");
}

}  // namespace
}  // namespace pygd::cuda

PYBIND11_MODULE(_cuda, m) {
  using namespace pygd::cuda;
  m.doc() = "pygd's CUDA kernels (see pygd/_backends/cuda.py for how Python calls them).";
  m.def("launch", &launch_call, py::arg("optimizer"), py::arg("dtype"), py::arg("sizes"), py::arg("streams"),
        py::arg("step"), py::arg("step_ptr"), py::arg("hparams"), py::arg("grad_scale_ptr"),
        py::arg("found_inf_ptr"), py::arg("stream"), py::arg("device"), py::arg("wait_for"),
        "Enqueue one optimizer step over device arrays; the caller has validated them.");
  m.def("device_count", [] {
    std::string error;
    const int count = device_count(&error);
    return py::make_tuple(count, error.empty() ? py::object(py::none()) : py::object(py::str(error)));
  }, "(count, None), or (-1, why) where CUDA cannot be used here.");
  m.def("pointer_devices", [](const std::vector<uintptr_t>& addresses) {
    std::vector<int> devices(addresses.size(), -1);
    const std::string error = pointer_devices(addresses.data(), int64_t(addresses.size()), devices.data());
    if (!error.empty()) throw std::runtime_error("pygd._cuda: " + error);
    return devices;
  }, "The device holding each address, -1 where it is not device memory.");
  m.def("runtime_version", &runtime_version, "The CUDA runtime version linked in (statically).");
  py::dict names;  // each launch's hparams, by these names (config_fields.h)
  pygd::Optimizers::for_each([&names](auto op) {
    using Op = decltype(op);
    names[Op::kName] = pygd::bindings::field_name_tuple<typename Op::Config>();
  });
  m.attr("hyperparameters") = names;
}
