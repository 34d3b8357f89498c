// The protocol. A call publishes its job (fn, context, chunk count) and then a claim word, one
// 64-bit atomic: [epoch 20 | helpers 12 | chunks 16 | next 16]. Anyone may take chunk `next` by
// one compare-exchange that advances it, the caller included, and workers with index < helpers.
// The caller takes chunks like any worker and then waits only until `done` counts every chunk: it
// waits for chunks being run, never for a thread to arrive. The job's fields are read only after a
// successful claim, and a call cannot return while a claimed chunk is unfinished, so a worker that
// wakes after the last claim touches nothing but the pool's own words. The pool is never destroyed
// (detached workers may be asleep in it at exit) and a forked child drops it: the child's first
// parallel call starts a new pool, since the parent's workers do not exist in the child.
#include "thread_pool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <system_error>
#include <thread>

#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#include <signal.h>
#define PYGD_HAS_FORK 1
#endif
#if defined(__x86_64__) || defined(__i386__) || defined(_M_X64)
#include <immintrin.h>
#endif

#include "wait_word.h"

namespace pygd::cpu {
namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__) || defined(_M_X64)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

struct Claim {
  uint32_t epoch, helpers, chunks, next;

  static constexpr uint64_t kEpochMask = (1u << 20) - 1;
  static Claim unpack(uint64_t w) {
    return {uint32_t(w >> 44), uint32_t(w >> 32) & 0xfff, uint32_t(w >> 16) & 0xffff,
            uint32_t(w) & 0xffff};
  }
  uint64_t pack() const {
    return (uint64_t(epoch & kEpochMask) << 44) | (uint64_t(helpers) << 32) |
           (uint64_t(chunks) << 16) | next;
  }
};
static_assert(kMaxThreads - 1 <= 0xfff && kMaxChunks <= 0xffff, "claim word fields");

// How long a thread spins before it sleeps: a worker waiting for the next call (calls often come
// back to back: one per param group), a caller waiting for a chunk a worker is running. Short, so
// that a sleeping caller frees its core for the worker the scheduler may move onto it.
constexpr auto kIdleSpin = std::chrono::microseconds(50);
constexpr auto kFinishSpin = std::chrono::microseconds(20);

std::atomic<int64_t> g_worker_delay_us{0};

class Pool {
 public:
  void run(int width, int64_t chunks, ChunkFn fn, void* context);
  PoolStats stats() const {
    return {started_.load(), parallel_calls_.load(), worker_chunks_.load(), late_wakeups_.load()};
  }

 private:
  int start_workers(int wanted);
  // A worker's life; `seen` is the epoch before the job it was started for.
  void work(int index, uint32_t seen);
  // Runs chunks of the current job while this thread may claim one; how many it ran.
  int64_t drain(int worker_index);
  void finish_chunk();

  std::atomic<uint64_t> claim_{0};
  std::atomic<ChunkFn> fn_{nullptr};
  std::atomic<void*> context_{nullptr};
  std::atomic<uint32_t> done_{0};            // chunks of the current job that have run
  std::atomic<uint32_t> caller_sleeping_{0};
  std::atomic<uint32_t> epoch_{0};           // bumped per job; idle workers sleep on it
  std::atomic<uint32_t> sleepers_{0};
  std::atomic<bool> busy_{false};            // a call holds the pool
  std::mutex start_mutex_;
  std::atomic<int> started_{0};
  std::atomic<int64_t> parallel_calls_{0}, worker_chunks_{0}, late_wakeups_{0};
};

void run_inline(int64_t chunks, ChunkFn fn, void* context) {
  for (int64_t c = 0; c < chunks; ++c) fn(context, c);
}

int64_t Pool::drain(int worker_index) {
  int64_t ran = 0;
  uint64_t word = claim_.load(std::memory_order_acquire);
  for (;;) {
    const Claim c = Claim::unpack(word);
    if (c.next >= c.chunks || (worker_index >= 0 && uint32_t(worker_index) >= c.helpers)) break;
    if (!claim_.compare_exchange_weak(word, word + 1, std::memory_order_acq_rel,
                                      std::memory_order_acquire))
      continue;  // `word` now holds the current value: look again
    fn_.load(std::memory_order_relaxed)(context_.load(std::memory_order_relaxed), c.next);
    ++ran;
    finish_chunk();
    word = claim_.load(std::memory_order_acquire);
  }
  return ran;
}

void Pool::finish_chunk() {
  // seq_cst pairs with the caller's store to caller_sleeping_ and reload of done_: either it sees
  // this chunk done or this sees it sleeping.
  done_.fetch_add(1, std::memory_order_seq_cst);
  if (caller_sleeping_.load(std::memory_order_seq_cst)) wake_all(done_);
}

void Pool::work(int index, uint32_t seen) {
#if defined(__linux__)
  pthread_setname_np(pthread_self(), "pygd-worker");  // what top, gdb and /proc show
#endif
  for (;;) {
    // Idle until a job after `seen` is published: spin briefly, then sleep on the epoch.
    const auto until = std::chrono::steady_clock::now() + kIdleSpin;
    while (epoch_.load(std::memory_order_acquire) == seen &&
           std::chrono::steady_clock::now() < until)
      for (int i = 0; i < 64; ++i) cpu_relax();
    while (epoch_.load(std::memory_order_acquire) == seen) {
      sleepers_.fetch_add(1, std::memory_order_seq_cst);
      if (epoch_.load(std::memory_order_seq_cst) == seen) wait_while_equal(epoch_, seen);
      sleepers_.fetch_sub(1, std::memory_order_relaxed);
    }
    seen = epoch_.load(std::memory_order_acquire);
    if (const int64_t delay = g_worker_delay_us.load(std::memory_order_relaxed))
      std::this_thread::sleep_for(std::chrono::microseconds(delay));
    if (const int64_t ran = drain(index)) {
      worker_chunks_.fetch_add(ran, std::memory_order_relaxed);
    } else if (uint32_t(index) < Claim::unpack(claim_.load(std::memory_order_relaxed)).helpers) {
      late_wakeups_.fetch_add(1, std::memory_order_relaxed);
    }
  }
}

int Pool::start_workers(int wanted) {
  if (started_.load(std::memory_order_acquire) >= wanted) return wanted;
  std::lock_guard<std::mutex> lock(start_mutex_);
#if defined(PYGD_HAS_FORK)
  // Workers are born with asynchronous signals blocked, so that SIGINT and its kind reach the
  // threads that handle them (Python's), never a worker; faults stay deliverable.
  sigset_t blocked, previous;
  sigfillset(&blocked);
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP}) sigdelset(&blocked, sig);
  pthread_sigmask(SIG_BLOCK, &blocked, &previous);
#endif
  int started = started_.load();
  try {
    for (; started < wanted; ++started) {
      std::thread([this, index = started, seen = epoch_.load()] { work(index, seen); }).detach();
      started_.store(started + 1, std::memory_order_release);
    }
  } catch (const std::system_error&) {
    // The process may not start more threads: the call runs on those it has.
  }
#if defined(PYGD_HAS_FORK)
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
#endif
  return std::min(wanted, started);
}

void Pool::run(int width, int64_t chunks, ChunkFn fn, void* context) {
  bool idle = false;
  if (!busy_.compare_exchange_strong(idle, true, std::memory_order_acquire)) {
    run_inline(chunks, fn, context);
    return;
  }
  const int helpers = start_workers(width - 1);
  if (helpers == 0) {
    busy_.store(false, std::memory_order_release);
    run_inline(chunks, fn, context);
    return;
  }
  parallel_calls_.fetch_add(1, std::memory_order_relaxed);
  fn_.store(fn, std::memory_order_relaxed);
  context_.store(context, std::memory_order_relaxed);
  done_.store(0, std::memory_order_relaxed);
  const uint32_t epoch = epoch_.load(std::memory_order_relaxed) + 1;
  claim_.store(Claim{epoch, uint32_t(helpers), uint32_t(chunks), 0}.pack(),
               std::memory_order_release);
  epoch_.store(epoch, std::memory_order_seq_cst);
  if (sleepers_.load(std::memory_order_seq_cst) > 0) wake_all(epoch_);

  drain(-1);

  const uint32_t all = uint32_t(chunks);
  const auto until = std::chrono::steady_clock::now() + kFinishSpin;
  while (done_.load(std::memory_order_acquire) != all) {
    if (std::chrono::steady_clock::now() < until) {
      for (int i = 0; i < 64; ++i) cpu_relax();
      continue;
    }
    caller_sleeping_.store(1, std::memory_order_seq_cst);
    const uint32_t seen = done_.load(std::memory_order_seq_cst);
    if (seen != all) wait_while_equal(done_, seen);
    caller_sleeping_.store(0, std::memory_order_relaxed);
  }
  busy_.store(false, std::memory_order_release);
}

std::atomic<Pool*> g_pool{nullptr};

#if defined(PYGD_HAS_FORK)
// The forking thread alone survives in the child: the parent's workers, and any call they were
// part of, are not there. Forget the pool (it is leaked, never touched again); nothing is
// allocated here, as a child handler of a multi-threaded process should not.
void forget_pool_in_child() { g_pool.store(nullptr, std::memory_order_relaxed); }
#endif

Pool& pool() {
  Pool* p = g_pool.load(std::memory_order_acquire);
  if (p) return *p;
#if defined(PYGD_HAS_FORK)
  static const bool registered = [] { return pthread_atfork(nullptr, nullptr, forget_pool_in_child) == 0; }();
  (void)registered;
#endif
  auto* fresh = new Pool;
  if (g_pool.compare_exchange_strong(p, fresh, std::memory_order_acq_rel)) return *fresh;
  delete fresh;
  return *p;
}

}  // namespace

void run_chunks(int width, int64_t chunks, ChunkFn fn, void* context) {
  width = std::clamp(width, 1, kMaxThreads);
  if (width == 1 || chunks <= 1 || chunks > kMaxChunks) {
    run_inline(chunks, fn, context);
    return;
  }
  pool().run(int(std::min<int64_t>(width, chunks)), chunks, fn, context);
}

PoolStats pool_stats() {
  Pool* p = g_pool.load(std::memory_order_acquire);
  return p ? p->stats() : PoolStats{};
}

void set_worker_delay_us(int64_t microseconds) {
  g_worker_delay_us.store(std::max<int64_t>(0, microseconds), std::memory_order_relaxed);
}

}  // namespace pygd::cpu
