// The threads behind every parallel call: a pool of pygd's own rather than OpenMP's, because an
// OpenMP region ends at a barrier that waits for every thread, even one still waiting for a core;
// GNU OpenMP hangs a forked child that opens a region; and its thread count is not the one a user
// set. The protocol is described in thread_pool.cpp.
#pragma once
#include <cstdint>

namespace pygd::cpu {

// Most threads one call may use, and most chunks one call may be split into.
constexpr int kMaxThreads = 4096;
constexpr int64_t kMaxChunks = 65535;

// Runs fn(context, c) exactly once for each c in [0, chunks) on the calling thread and at most
// width - 1 pool workers, and returns once every chunk has run. The caller never waits for a
// worker that has not claimed a chunk, and a worker that comes late finds nothing to claim and
// never touches `context`. fn must not throw. chunks <= kMaxChunks; width is clamped to
// [1, kMaxThreads]. While another thread's call holds the pool, the call runs on its own thread.
using ChunkFn = void (*)(void* context, int64_t chunk);
void run_chunks(int width, int64_t chunks, ChunkFn fn, void* context);

// The same over a callable: body(c) for each chunk c.
template <class Body>
void for_each_chunk(int width, int64_t chunks, Body& body) {
  run_chunks(width, chunks, [](void* b, int64_t c) { (*static_cast<Body*>(b))(c); }, &body);
}

// What the pool of this process has done, for tests and diagnostics.
struct PoolStats {
  int workers = 0;              // threads started (in this process: a forked child starts anew)
  int64_t parallel_calls = 0;   // calls that offered chunks to workers
  int64_t worker_chunks = 0;    // chunks that workers ran
  int64_t late_wakeups = 0;     // times a worker woke for a call whose chunks were all claimed
};
PoolStats pool_stats();

// Test hook: each worker sleeps this long after waking before it claims (0: off). It makes the
// late worker of a loaded machine happen on demand.
void set_worker_delay_us(int64_t microseconds);

}  // namespace pygd::cpu
