// What the CUDA runtime says about this machine: devices, and which device holds an address.
#include <cuda_runtime.h>

#if defined(__linux__)
#include <dlfcn.h>
#endif

#include "call.h"
#include "error_text.h"

namespace pygd::cuda {

namespace {

// Whether the NVIDIA driver's library loads here. The runtime reports a missing driver as
// cudaErrorInsufficientDriver ("CUDA driver version is insufficient for CUDA runtime version"),
// which misleads on a machine that has no driver at all.
bool driver_library_loads() {
#if defined(__linux__)
  void* library = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
  if (library == nullptr) return false;
  dlclose(library);
#endif
  return true;
}

}  // namespace

int device_count(std::string* error) {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    cudaGetLastError();  // a failed query leaves no error behind for the next launch to report
    if (status == cudaErrorInsufficientDriver && !driver_library_loads())
      *error = "no NVIDIA driver here (libcuda.so.1 cannot be loaded)";
    else
      *error = error_text(status);
    return -1;
  }
  return count;
}

std::string pointer_devices(const uintptr_t* addresses, int64_t n, int* devices) {
  for (int64_t i = 0; i < n; ++i) {
    cudaPointerAttributes attributes;
    const cudaError_t status = cudaPointerGetAttributes(&attributes, reinterpret_cast<const void*>(addresses[i]));
    if (status != cudaSuccess) {
      cudaGetLastError();
      return error_text(status);
    }
    const bool on_device = attributes.type == cudaMemoryTypeDevice || attributes.type == cudaMemoryTypeManaged;
    devices[i] = on_device ? attributes.device : -1;
  }
  return {};
}

int runtime_version() { return CUDART_VERSION; }

}  // namespace pygd::cuda
