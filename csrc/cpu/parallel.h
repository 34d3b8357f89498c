// The thread driver: one pool call (thread_pool.h) per call, covering every tensor of the list,
// split by element count (not by tensor) into chunks whose ranges start on kSweepAlign boundaries.
#pragma once
#include <cstdint>
#include <vector>

#include "dispatch.h"

namespace pygd::cpu {

// The tensors of one call: for tensor j, streams * j .. streams * (j + 1) - 1 in `pointers` are its
// stream base pointers (null where absent), and it holds offsets[j + 1] - offsets[j] elements.
struct TensorList {
  int streams = 0;
  std::vector<void*> pointers;
  std::vector<int64_t> offsets{0};

  void reset(int stream_count) {
    streams = stream_count;
    pointers.clear();
    offsets.assign(1, 0);
  }
  int64_t tensors() const { return int64_t(offsets.size()) - 1; }
  int64_t elements() const { return offsets.back(); }
};

// A stream a step only writes (unread.h) goes around the cache, with streaming stores, in a call
// whose streams span at least this many bytes each: far more than stays cached until the next
// step, so a plain store would first read each line from memory only to overwrite it (and, on
// some CPUs, stall on a store-only stream that the prefetchers do not follow). Below it, the
// lines may still be cached and a plain store is the cheaper.
constexpr int64_t kStreamingStoreBytes = int64_t(4) << 20;

// Runs `sweep` over every element of `list`; the caller has released the GIL. element_bytes: the
// size of one element of the list's streams.
void parallel_sweep(SweepFn sweep, const void* step, const TensorList& list, int64_t element_bytes);

// The same split, for any per-tensor sweep: fn(context, j, begin, end) over elements [begin, end)
// of tensor j, every element of the list exactly once, ranges starting on kSweepAlign boundaries.
using RangeFn = void (*)(void* context, int64_t tensor, int64_t begin, int64_t end);
void parallel_ranges(RangeFn fn, void* context, const TensorList& list);

// Fewest elements worth giving a thread: below 2 * grain a call stays on the calling thread.
int64_t grain();
void set_grain(int64_t elements);
// Threads a call over `elements` elements uses: the thread policy's count (thread_count.h), but
// at most one per grain.
int threads_for(int64_t elements);

// Narrows the config's scalars for the layout's math type, picks the active ISA's sweep, and runs
// it. Every stream of `list` is stored as `layout` says (a (C) layout's list has one stream more).
template <class Op>
void run(const typename Op::Config& config, int64_t step, Layout layout, const TensorList& list) {
  const SweepTable& table = active_tables().sweeps;
  // The streaming-store decision goes by the states' elements (an unread stream is a state).
  const int64_t state_bytes = layout == Layout::kFloat64 ? 8
                              : (layout == Layout::kBFloat16 || layout == Layout::kFloat16) ? 2 : 4;
  if (layout == Layout::kFloat64) {
    const auto s = make_step<double>(config, step);
    parallel_sweep(table.get<Op>(layout), &s, list, state_bytes);
  } else {
    const auto s = make_step<float>(config, step);
    parallel_sweep(table.get<Op>(layout), &s, list, state_bytes);
  }
}

// Every stream of one dtype.
template <class Op>
void run(const typename Op::Config& config, int64_t step, Dtype dtype, const TensorList& list) {
  run<Op>(config, step, plain_layout(dtype), list);
}

}  // namespace pygd::cpu
