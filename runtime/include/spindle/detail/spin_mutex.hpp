// A one-byte mutex for the runtime's short critical sections (list splicing, flag flips).
#pragma once

#include <atomic>
#include <thread>

namespace spindle::detail {

/// Tells the CPU the thread is busy-waiting (x86 `pause`), easing the sibling hyperthread
/// and the exit from the loop.
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

/// One step of a busy wait, before retry number `spins` (from 0): a pause for the first 64,
/// then the thread's time slice given up, so a waiter never starves whom it waits for.
inline void backoff(int spins) noexcept {
  if (spins < 64) cpu_relax();
  else std::this_thread::yield();
}

/// Spins briefly, then yields. Critical sections guarded by it never block or allocate
/// much, so a futex would cost more than it saves; one byte keeps per-fiber nodes small.
class SpinMutex {
 public:
  void lock() noexcept {
    while (locked_.exchange(true, std::memory_order_acquire))
      for (int spins = 0; locked_.load(std::memory_order_relaxed); ++spins) backoff(spins);
  }
  bool try_lock() noexcept { return !locked_.exchange(true, std::memory_order_acquire); }
  void unlock() noexcept { locked_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> locked_{false};
};

}  // namespace spindle::detail
