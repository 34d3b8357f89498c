// The contract between the pybind11 module (module.cpp, compiled by the host compiler) and the CUDA
// units (compiled by nvcc): one call's tensors, where its step scalars come from, and the stream to
// run on, in plain C++ types. Nothing here needs a CUDA header.
#pragma once
#include <cstdint>
#include <string>

#include "pygd/optimizers.h"

namespace pygd::cuda {

// Element types in memory. float16 and bfloat16 are stored narrow and updated in float32.
enum class Dtype : int { kFloat32, kFloat64, kFloat16, kBFloat16 };

struct Call {
  Dtype dtype = Dtype::kFloat32;
  int device = 0;
  uintptr_t stream = 0;  // a cudaStream_t: 0 the legacy default stream, or any stream of `device`

  // Tensor j has sizes[j] elements; pointers[j * streams + k] is its base address for Op stream k
  // (device memory), null where an optional stream is absent.
  int64_t tensors = 0;
  int streams = 0;
  const int64_t* sizes = nullptr;
  void* const* pointers = nullptr;

  // The step count: `step` from the host, unless `step_count` (device memory, a float32 as torch
  // keeps it) is given; the step scalars are then made on the device, in double, as the host would.
  int64_t step = 1;
  const float* step_count = nullptr;
  // torch.amp.GradScaler's device tensors, read by the kernel (no host synchronization): with
  // grad_scale, grads are divided by *grad_scale and stored back (pygd/amp.h); with found_inf, the
  // whole step is skipped when *found_inf != 0.
  const float* grad_scale = nullptr;
  const float* found_inf = nullptr;

  // Streams the arrays were last used on, other than `stream`: the launch waits for their work.
  const uintptr_t* wait_for = nullptr;
  int64_t waits = 0;
};

// Enqueues Op's update of every tensor of `call` (one kernel launch per table of tensors, see
// tensor_table.cuh). Returns an empty string, or the CUDA error that stopped it. Defined for each
// member of pygd::Optimizers, one CUDA unit each (<name>.cu, compiled in parallel).
template <class Op>
std::string launch(const typename Op::Config& config, const Call& call);

// What the CUDA runtime sees: the number of usable devices, or -1 with `error` set (no driver, no
// device, a driver too old for this build).
int device_count(std::string* error);

// The device holding each address (-1 where it is not device memory the runtime knows), or an error.
std::string pointer_devices(const uintptr_t* addresses, int64_t n, int* devices);

// The CUDA runtime version this module was built against and links statically (e.g. 13000).
int runtime_version();

}  // namespace pygd::cuda
