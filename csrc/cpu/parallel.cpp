#include "parallel.h"

#include <algorithm>
#include <atomic>

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace pygd::cpu {
namespace {

int default_threads() {
#if defined(_OPENMP)
  return std::max(1, omp_get_max_threads());
#else
  return 1;
#endif
}

std::atomic<int> g_threads{default_threads()};
// Below ~32k elements (128 KiB of fp32 params) waking a second thread costs more than it saves.
std::atomic<int64_t> g_grain{32768};

constexpr int64_t kChunksPerThread = 16;

int64_t round_to_sweep(int64_t local, int64_t size) {
  return std::min(size, (local + kSweepAlign - 1) / kSweepAlign * kSweepAlign);
}

// Elements [lo, hi) of the list's concatenation, each tensor's part trimmed to sweep boundaries.
// Neighbouring ranges trim a shared boundary the same way, so every element is swept exactly once.
void sweep_range(SweepFn sweep, const void* step, const TensorList& list, int64_t lo, int64_t hi) {
  const auto& off = list.offsets;
  int64_t j = std::upper_bound(off.begin(), off.end(), lo) - off.begin() - 1;
  for (; j < list.tensors() && off[j] < hi; ++j) {
    const int64_t size = off[j + 1] - off[j];
    const int64_t begin = round_to_sweep(std::max<int64_t>(lo - off[j], 0), size);
    const int64_t end = round_to_sweep(std::min(hi - off[j], size), size);
    if (begin < end) sweep(step, &list.pointers[size_t(j) * list.streams], begin, end);
  }
}

}  // namespace

void parallel_sweep(SweepFn sweep, const void* step, const TensorList& list) {
  const int64_t total = list.elements();
  const int64_t wanted = std::min<int64_t>(num_threads(), total / std::max<int64_t>(grain(), 1));
  if (wanted <= 1) {
    sweep_range(sweep, step, list, 0, total);
    return;
  }
#if defined(_OPENMP)
  // Chunks are claimed as threads come free rather than split evenly up front: on a shared machine
  // a thread that loses its core to another process then holds up one chunk, not half the call.
  const int64_t chunk = std::max(grain(), total / (wanted * kChunksPerThread));
  const int64_t chunks = (total + chunk - 1) / chunk;
#pragma omp parallel for num_threads(int(wanted)) schedule(dynamic, 1)
  for (int64_t c = 0; c < chunks; ++c)
    sweep_range(sweep, step, list, c * chunk, std::min(total, (c + 1) * chunk));
#else
  sweep_range(sweep, step, list, 0, total);
#endif
}

int num_threads() { return g_threads.load(std::memory_order_relaxed); }
void set_num_threads(int n) { g_threads.store(std::max(1, n)); }
int64_t grain() { return g_grain.load(std::memory_order_relaxed); }
void set_grain(int64_t elements) { g_grain.store(std::max<int64_t>(1, elements)); }

bool has_openmp() {
#if defined(_OPENMP)
  return true;
#else
  return false;
#endif
}

}  // namespace pygd::cpu
