// The multi-tensor table: the base pointers and sizes of up to kCapacity tensors, passed to the
// kernel by value as a kernel parameter (no copy to device memory, no allocation per call). Every
// tensor is cut into chunks of kChunk elements, one thread block per chunk; block b finds its tensor
// by a binary search over the tensors' first chunks, so a table costs 4 bytes per tensor for the
// mapping, however many chunks a tensor has.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace pygd::cuda {

constexpr int kThreads = 256;  // per block
// Elements per block: a 4096-element tensor (a common bias or layer-norm size) is one block; a
// large one gives many blocks, enough to fill every SM several times over.
constexpr int64_t kChunk = 4096;
constexpr int64_t kMaxChunksPerLaunch = INT32_MAX;  // the grid's x dimension

// Kernel-parameter space: 32764 bytes from CUDA 12.1 on, for Volta and later (every architecture
// this module is built for, see csrc/cuda/CMakeLists.txt), 4096 bytes before. The bigger the table, the fewer
// launches a call of thousands of tensors needs.
#if CUDART_VERSION >= 12010
constexpr size_t kParamBytes = 32764;
#else
constexpr size_t kParamBytes = 4096;
#endif
constexpr size_t kStepParamBytes = 256;  // kept for the kernel's other parameter, the StepSource

template <int kStreams>
struct TensorTable {
  static constexpr int kCapacity =
      int((kParamBytes - kStepParamBytes - sizeof(int)) /
          (kStreams * sizeof(void*) + sizeof(int64_t) + sizeof(uint32_t)));

  void* pointers[kStreams][kCapacity];  // stream-major: base of tensor j's stream k, or null
  int64_t sizes[kCapacity];             // elements
  uint32_t first_chunk[kCapacity];      // the block that starts tensor j; increasing
  int count;

  // The tensor that block `chunk` updates: the last one whose first chunk is at or before it.
  __device__ __forceinline__ int tensor_of(uint32_t chunk) const {
    int lo = 0, hi = count - 1;
    while (lo < hi) {
      const int mid = (lo + hi + 1) / 2;
      if (first_chunk[mid] <= chunk) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
};

}  // namespace pygd::cuda
