// A one-byte mutex for the runtime's short critical sections (list splicing, flag flips).
#pragma once

#include <atomic>
#include <thread>

namespace spindle::detail {

/// Spins briefly, then yields. Critical sections guarded by it never block or allocate
/// much, so a futex would cost more than it saves; one byte keeps per-fiber nodes small.
class SpinMutex {
 public:
  void lock() noexcept {
    while (locked_.exchange(true, std::memory_order_acquire)) {
      for (int spins = 0; locked_.load(std::memory_order_relaxed); ++spins) {
        if (spins < 64) {
#if defined(__x86_64__) || defined(__i386__)
          __builtin_ia32_pause();
#endif
        } else {
          std::this_thread::yield();
        }
      }
    }
  }
  bool try_lock() noexcept { return !locked_.exchange(true, std::memory_order_acquire); }
  void unlock() noexcept { locked_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> locked_{false};
};

}  // namespace spindle::detail
