// The update kernel: one block per chunk of one tensor of the table, every element through the
// Op's own update (csrc/include/pygd/), on Lane<T> values. It moves memory and does no math of its
// own: 16-byte loads and stores where all of a tensor's streams are 16-byte aligned, one element
// at a time where not, and for the tail; which path an element takes never changes its result.
#pragma once
#include <cstdint>

#include "lane.cuh"
#include "pygd/optimizers.h"
#include "tensor_table.cuh"

namespace pygd::cuda {

// Where a launch's step scalars come from (Call in call.h says what each pointer means).
template <class Op, class T>
struct StepSource {
  typename Op::template Step<T> step;  // made on the host, used when step_count is null
  typename Op::Config config;          // to make the step on the device from *step_count
  const float* step_count;
  const float* grad_scale;
  const float* found_inf;
};

// The block's step: the host's, or made once per block from the device step count by thread 0 (in
// double: a pow per thread would cost more than a small chunk's update on GPUs with slow float64).
template <class Op, class T>
__device__ __forceinline__ typename Op::template Step<T> block_step(const StepSource<Op, T>& source) {
  using Step = typename Op::template Step<T>;
  if (!source.step_count) return source.step;
  __shared__ Step made;
  if (threadIdx.x == 0) made = make_step<T>(source.config, int64_t(*source.step_count));
  __syncthreads();
  return made;
}

template <class S, int W>
struct alignas(sizeof(S) * W) Pack {
  S v[W];
};

// Elements i .. i + W - 1 of every present stream: loaded first (all loads in flight at once),
// updated one at a time in the math type, the written streams stored back. Streams the step does
// not read (pygd/unread.h) are not loaded.
template <class Op, class S, int W, class Step>
__device__ __forceinline__ void update_pack(const Step& step, S* const* streams, int64_t i) {
  using E = Element<S>;
  using T = typename E::Math;
  using P = Pack<S, W>;
  const unsigned unread = unread_streams<Op>(step);
  P in[Op::kStreams];
#pragma unroll
  for (int k = 0; k < Op::kStreams; ++k)
    if (streams[k] && !(unread >> k & 1u)) in[k] = *reinterpret_cast<const P*>(streams[k] + i);
#pragma unroll
  for (int e = 0; e < W; ++e) {
    Lane<T> x[Op::kStreams];
#pragma unroll
    for (int k = 0; k < Op::kStreams; ++k)
      x[k] = streams[k] && !(unread >> k & 1u) ? E::widen(in[k].v[e]) : T(0);
    Op::update(step, x);
#pragma unroll
    for (int k = 0; k < Op::kStreams; ++k)
      if (Op::kWritten >> k & 1u) in[k].v[e] = E::narrow(x[k].v);
  }
#pragma unroll
  for (int k = 0; k < Op::kStreams; ++k)
    if ((Op::kWritten >> k & 1u) && streams[k]) *reinterpret_cast<P*>(streams[k] + i) = in[k];
}

// Elements [begin, end) of one tensor, the block's threads striding through them so that
// neighbouring threads touch neighbouring memory.
template <class Op, class S, class Step>
__device__ __forceinline__ void update_chunk(const Step& step, S* const* streams, int64_t begin, int64_t end) {
  constexpr int W = 16 / sizeof(S);
  // Chunks start at multiples of kChunk (a multiple of W), so a chunk is aligned as its tensor is.
  bool aligned = true;
#pragma unroll
  for (int k = 0; k < Op::kStreams; ++k)
    if (streams[k] && reinterpret_cast<uintptr_t>(streams[k] + begin) % 16 != 0) aligned = false;
  int64_t tail = begin;
  if (aligned) {
    tail = begin + (end - begin) / W * W;
    for (int64_t i = begin + int64_t(threadIdx.x) * W; i < tail; i += int64_t(blockDim.x) * W)
      update_pack<Op, S, W>(step, streams, i);
  }
  for (int64_t i = tail + threadIdx.x; i < end; i += blockDim.x) update_pack<Op, S, 1>(step, streams, i);
}

// The table's tensors as chunks, one block each. With a grad scale, the update is Unscaled<Op>'s
// (pygd/amp.h): grads divided by the scale, and stored back so.
template <class Op, class S>
__global__ void __launch_bounds__(kThreads)
update_kernel(const __grid_constant__ TensorTable<Op::kStreams> table,
              const __grid_constant__ StepSource<Op, typename Element<S>::Math> source) {
  using T = typename Element<S>::Math;
  // GradScaler found an inf or NaN among the grads: the step is skipped, every array unchanged.
  if (source.found_inf && *source.found_inf != 0.0f) return;
  const int j = table.tensor_of(blockIdx.x);
  const int64_t begin = int64_t(blockIdx.x - table.first_chunk[j]) * kChunk;
  const int64_t end = begin + kChunk < table.sizes[j] ? begin + kChunk : table.sizes[j];
  S* streams[Op::kStreams];
#pragma unroll
  for (int k = 0; k < Op::kStreams; ++k) streams[k] = static_cast<S*>(table.pointers[k][j]);
  const auto step = block_step(source);
  if (source.grad_scale) {
    const typename Unscaled<Op>::template Step<T> unscaled{step, T(*source.grad_scale)};
    update_chunk<Unscaled<Op>, S>(unscaled, streams, begin, end);
  } else {
    update_chunk<Op, S>(step, streams, begin, end);
  }
}

}  // namespace pygd::cuda
