// Sleeping until a 32-bit atomic word changes, and waking its sleepers: a futex on Linux, a shared
// mutex and condition variable elsewhere. The thread pool sleeps this way rather than on a mutex
// of its own because a thread descheduled while holding a mutex would stall the next call.
#pragma once
#include <atomic>
#include <cstdint>

namespace pygd::cpu {

// Returns once `word` may no longer hold `expected` (it may also return spuriously: callers loop).
void wait_while_equal(std::atomic<uint32_t>& word, uint32_t expected);
// Wakes every thread sleeping in wait_while_equal on `word`.
void wake_all(std::atomic<uint32_t>& word);

}  // namespace pygd::cpu
