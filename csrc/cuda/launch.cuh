// The host side of a call: select the device, order the launch after the streams the arrays were
// last used on, fill tensor tables and launch the kernel once per full table. Included by one CUDA
// unit per optimizer, which instantiates launch<Op> (sgd.cu, adam.cu, ...), so the units compile in
// parallel.
#pragma once
#include <cuda_runtime.h>

#include <string>

#include "call.h"
#include "error_text.h"
#include "kernel.cuh"

namespace pygd::cuda {

// Makes `device` current for the scope, and the caller's device current again afterwards: the
// current device is per host thread, shared with torch and everything else in the process.
class DeviceScope {
 public:
  cudaError_t enter(int device) {
    cudaError_t error = cudaGetDevice(&previous_);
    if (error != cudaSuccess || previous_ == device) return error;
    error = cudaSetDevice(device);
    if (error == cudaSuccess) switched_ = true;
    return error;
  }
  ~DeviceScope() {
    if (switched_) cudaSetDevice(previous_);
  }

 private:
  int previous_ = -1;
  bool switched_ = false;
};

// Work already enqueued on `call.wait_for` runs before anything enqueued on `stream` from now on.
inline cudaError_t order_after(const Call& call, cudaStream_t stream) {
  for (int64_t w = 0; w < call.waits; ++w) {
    const auto other = reinterpret_cast<cudaStream_t>(call.wait_for[w]);
    if (other == stream) continue;
    cudaEvent_t done;
    cudaError_t error = cudaEventCreateWithFlags(&done, cudaEventDisableTiming);
    if (error != cudaSuccess) return error;
    error = cudaEventRecord(done, other);
    if (error == cudaSuccess) error = cudaStreamWaitEvent(stream, done, 0);
    cudaEventDestroy(done);  // released once the wait is satisfied
    if (error != cudaSuccess) return error;
  }
  return cudaSuccess;
}

template <class Op, class S>
cudaError_t launch_tables(const typename Op::Config& config, const Call& call, cudaStream_t stream) {
  using T = typename Element<S>::Math;
  using Table = TensorTable<Op::kStreams>;
  static_assert(sizeof(StepSource<Op, T>) <= kStepParamBytes, "the step no longer fits beside the table");
  static_assert(sizeof(Table) + kStepParamBytes <= kParamBytes, "the table exceeds the parameter space");

  StepSource<Op, T> source{};
  source.step = make_step<T>(config, call.step);  // on the host, in double, as the CPU drivers do
  source.config = config;
  source.step_count = call.step_count;
  source.grad_scale = call.grad_scale;
  source.found_inf = call.found_inf;

  Table table;
  table.count = 0;
  int64_t chunks = 0;
  auto flush = [&]() -> cudaError_t {
    if (table.count == 0) return cudaSuccess;
    update_kernel<Op, S><<<unsigned(chunks), kThreads, 0, stream>>>(table, source);
    table.count = 0;
    chunks = 0;
    return cudaGetLastError();
  };
  for (int64_t j = 0; j < call.tensors; ++j) {
    const int64_t size = call.sizes[j];
    if (size == 0) continue;  // nothing to update, and no block to spend on it
    const int64_t tensor_chunks = (size + kChunk - 1) / kChunk;
    if (tensor_chunks > kMaxChunksPerLaunch) return cudaErrorInvalidConfiguration;
    if (table.count == Table::kCapacity || chunks + tensor_chunks > kMaxChunksPerLaunch) {
      const cudaError_t error = flush();
      if (error != cudaSuccess) return error;
    }
    const int c = table.count++;
    for (int k = 0; k < Op::kStreams; ++k) table.pointers[k][c] = call.pointers[j * call.streams + k];
    table.sizes[c] = size;
    table.first_chunk[c] = uint32_t(chunks);
    chunks += tensor_chunks;
  }
  return flush();
}

template <class Op>
std::string launch(const typename Op::Config& config, const Call& call) {
  DeviceScope scope;
  cudaError_t error = scope.enter(call.device);
  const auto stream = reinterpret_cast<cudaStream_t>(call.stream);
  if (error == cudaSuccess) error = order_after(call, stream);
  if (error == cudaSuccess) {
    switch (call.dtype) {
      case Dtype::kFloat32: error = launch_tables<Op, float>(config, call, stream); break;
      case Dtype::kFloat64: error = launch_tables<Op, double>(config, call, stream); break;
      case Dtype::kFloat16: error = launch_tables<Op, __half>(config, call, stream); break;
      case Dtype::kBFloat16: error = launch_tables<Op, __nv_bfloat16>(config, call, stream); break;
    }
  }
  return error == cudaSuccess ? std::string() : error_text(error);
}

}  // namespace pygd::cuda
