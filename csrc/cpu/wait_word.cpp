#include "wait_word.h"

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>
#else
#include <condition_variable>
#include <mutex>
#endif

namespace pygd::cpu {

#if defined(__linux__)

// std::atomic<uint32_t> is a plain 32-bit word (static_assert below), so the kernel may wait on it.
static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t), "futex word must be 32 bits");

void wait_while_equal(std::atomic<uint32_t>& word, uint32_t expected) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAIT_PRIVATE, expected, nullptr,
          nullptr, 0);
}

void wake_all(std::atomic<uint32_t>& word) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr,
          nullptr, 0);
}

#else

namespace {
// One for every word: waits are rare (idle workers, a caller whose helper lost its core) and short.
std::mutex& wait_mutex() {
  static auto* m = new std::mutex;  // never destroyed: sleepers may outlive static destructors
  return *m;
}
std::condition_variable& wait_condition() {
  static auto* c = new std::condition_variable;
  return *c;
}
}  // namespace

void wait_while_equal(std::atomic<uint32_t>& word, uint32_t expected) {
  std::unique_lock<std::mutex> lock(wait_mutex());
  wait_condition().wait(lock, [&] { return word.load() != expected; });
}

// The word changed before this call; taking the mutex orders that change before any waiter's check
// that still holds it, so no waiter sleeps through the wake.
void wake_all(std::atomic<uint32_t>&) {
  { std::lock_guard<std::mutex> lock(wait_mutex()); }
  wait_condition().notify_all();
}

#endif

}  // namespace pygd::cpu
