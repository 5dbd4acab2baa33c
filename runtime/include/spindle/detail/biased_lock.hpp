// A lock that costs nothing while only the worker that made it uses it.
#pragma once

#include <asio/io_context.hpp>
#include <atomic>

#include "spindle/detail/spin_mutex.hpp"
#include "spindle/detail/worker.hpp"

namespace spindle::detail {

struct BiasRegistry;

/// BasicLockable. Made on a scheduler worker, it is *biased* to that worker: the worker's
/// thread locks and unlocks it with one plain load and compare, no atomic read-modify-write.
/// The first lock from any other thread revokes the bias for good: it asks the owning worker
/// to drop it between two of its Asio handlers (where the worker holds no lock), waits until
/// it has, and from then on every thread takes the SpinMutex. A worker that is not running
/// (stopped, or shut down) is not asked. Made anywhere else, it is a SpinMutex from the start.
///
/// Why: most channels are used by the fibers of one worker (a pipeline, a fan-out, a
/// request's helpers all start on their parent's worker), and there an uncontended atomic
/// exchange is a fifth of a channel round trip.
///
/// The rule that keeps revocation free of deadlocks: a thread never revokes while it holds
/// a BiasedLock. Whoever takes several (select) calls unbias() on each first; a thread waiting
/// for a revocation meanwhile serves the revocations asked of its own worker.
class BiasedLock {
 public:
  BiasedLock() noexcept : owner_(current_io()) {}
  BiasedLock(const BiasedLock&) = delete;
  BiasedLock& operator=(const BiasedLock&) = delete;

  void lock() noexcept {
    asio::io_context* owner = owner_.load(std::memory_order_acquire);
    if (owner == nullptr) {
      mu_.lock();
    } else if (owner != current_io()) {
      revoke();
      mu_.lock();
    }
  }
  /// Only the owner's thread holds the lock while it is biased, and only that thread ever
  /// drops the bias — never while holding it — so the bias seen here is the one lock() saw.
  void unlock() noexcept {
    if (owner_.load(std::memory_order_relaxed) == nullptr) mu_.unlock();
  }
  /// Revokes the bias if another worker holds it: lock() will then not need to.
  void unbias() noexcept {
    asio::io_context* owner = owner_.load(std::memory_order_acquire);
    if (owner != nullptr && owner != current_io()) revoke();
  }

 private:
  friend struct BiasRegistry;
  /// Has the owning worker drop the bias, or drops it if that worker is not running, and
  /// returns once it is dropped.
  void revoke() noexcept;
  /// On the owner's thread between two handlers, or once it stopped. Its plain writes to
  /// what the lock guards happen before this store, which the revoking thread acquires.
  void drop_bias() noexcept { owner_.store(nullptr, std::memory_order_release); }

  std::atomic<asio::io_context*> owner_;  // null once unbiased (never biased again)
  SpinMutex mu_;
};

/// Held by a worker thread while it runs its io_context: makes the worker reachable for
/// revocations, and on destruction (the worker stopped) drops what was asked meanwhile and
/// lets later revocations drop the bias themselves.
class BiasHome {
 public:
  explicit BiasHome(asio::io_context& io);
  ~BiasHome();
  BiasHome(const BiasHome&) = delete;
  BiasHome& operator=(const BiasHome&) = delete;

 private:
  asio::io_context& io_;
};

}  // namespace spindle::detail
