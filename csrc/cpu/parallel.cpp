#include "parallel.h"

#include <algorithm>
#include <atomic>

#include "thread_count.h"
#include "thread_pool.h"

namespace pygd::cpu {
namespace {

// Below ~32k elements (128 KiB of fp32 params) waking a second thread costs more than it saves.
std::atomic<int64_t> g_grain{32768};

// A chunk is one claim of the pool: small enough that a worker that loses its core mid-chunk holds
// up little (the caller takes every other chunk meanwhile), large enough that claiming costs
// nothing beside it (16k-64k elements: tens of microseconds of memory traffic).
constexpr int64_t kChunkMin = 1 << 14;
constexpr int64_t kChunkMax = 1 << 16;
constexpr int64_t kChunksPerThread = 16;

int64_t round_to_sweep(int64_t local, int64_t size) {
  return std::min(size, (local + kSweepAlign - 1) / kSweepAlign * kSweepAlign);
}

// Elements [lo, hi) of the list's concatenation, each tensor's part trimmed to sweep boundaries.
// Neighbouring ranges trim a shared boundary the same way, so every element is swept exactly once.
void run_range(RangeFn fn, void* context, const TensorList& list, int64_t lo, int64_t hi) {
  const auto& off = list.offsets;
  int64_t j = std::upper_bound(off.begin(), off.end(), lo) - off.begin() - 1;
  for (; j < list.tensors() && off[j] < hi; ++j) {
    const int64_t size = off[j + 1] - off[j];
    const int64_t begin = round_to_sweep(std::max<int64_t>(lo - off[j], 0), size);
    const int64_t end = round_to_sweep(std::min(hi - off[j], size), size);
    if (begin < end) fn(context, j, begin, end);
  }
}

struct SweepContext {
  SweepFn sweep;
  const void* step;
  const TensorList* list;
  bool stream_unread;
};

void sweep_tensor(void* context, int64_t j, int64_t begin, int64_t end) {
  const auto& c = *static_cast<const SweepContext*>(context);
  c.sweep(c.step, &c.list->pointers[size_t(j) * c.list->streams], begin, end, c.stream_unread);
}

}  // namespace

int threads_for(int64_t elements) {
  // Below two grains a call stays on the calling thread without asking the policy (which reads
  // the CPU affinity: a system call).
  const int64_t grains = elements / std::max<int64_t>(grain(), 1);
  if (grains < 2) return 1;
  return int(std::min<int64_t>(current_threads().threads, grains));
}

void parallel_ranges(RangeFn fn, void* context, const TensorList& list) {
  const int64_t total = list.elements();
  const int threads = threads_for(total);
  if (threads <= 1) {
    run_range(fn, context, list, 0, total);
    return;
  }
  int64_t chunk = std::clamp(total / (threads * kChunksPerThread), kChunkMin, kChunkMax);
  chunk = std::max(chunk, (total + kMaxChunks - 1) / kMaxChunks);
  auto body = [&](int64_t c) { run_range(fn, context, list, c * chunk, std::min(total, (c + 1) * chunk)); };
  for_each_chunk(threads, (total + chunk - 1) / chunk, body);
}

void parallel_sweep(SweepFn sweep, const void* step, const TensorList& list, int64_t element_bytes) {
  SweepContext context{sweep, step, &list, list.elements() * element_bytes >= kStreamingStoreBytes};
  parallel_ranges(&sweep_tensor, &context, list);
}

int64_t grain() { return g_grain.load(std::memory_order_relaxed); }
void set_grain(int64_t elements) { g_grain.store(std::max<int64_t>(1, elements)); }

}  // namespace pygd::cpu
