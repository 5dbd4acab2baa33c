// WaitGroup: Go's sync.WaitGroup for fibers, with a cancellable wait.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <source_location>
#include <system_error>

#include "spindle/context.hpp"
#include "spindle/detail/intrusive_list.hpp"
#include "spindle/detail/park.hpp"
#include "spindle/detail/spin_mutex.hpp"

namespace spindle {

/// Counts outstanding work; wait() resumes when the count reaches zero. Safe to use from
/// fibers on any threads. Like Go's, it must outlive every fiber that uses it.
class WaitGroup {
 public:
  WaitGroup() = default;
  WaitGroup(const WaitGroup&) = delete;
  WaitGroup& operator=(const WaitGroup&) = delete;

  /// Adds `n` (may be negative) to the counter. Throws std::logic_error, leaving the
  /// counter unchanged, if it would go below zero.
  void add(std::int64_t n = 1);
  /// add(-1).
  void done() { add(-1); }

  /// Calls done() when it goes out of scope — Go's `defer wg.Done()`.
  class DoneGuard {
   public:
    explicit DoneGuard(WaitGroup& wg) noexcept : wg_(&wg) {}
    DoneGuard(DoneGuard&& o) noexcept : wg_(std::exchange(o.wg_, nullptr)) {}
    DoneGuard(const DoneGuard&) = delete;
    DoneGuard& operator=(const DoneGuard&) = delete;
    DoneGuard& operator=(DoneGuard&&) = delete;
    /// A misuse found here (counter below zero) is logged as an error: a destructor cannot throw.
    ~DoneGuard();

   private:
    WaitGroup* wg_;
  };
  /// `auto done = wg.done_on_exit();` at the top of a fiber.
  [[nodiscard]] DoneGuard done_on_exit() noexcept { return DoneGuard(*this); }

  class WaitAwait;
  /// Suspends until the counter is zero (at once, without suspending, if it is). Yields an
  /// empty error code, or ctx.err() if the context ended first. Await it at once: `ctx` is
  /// used by reference (see Channel::send).
  WaitAwait wait(const Context& ctx, std::source_location where = std::source_location::current());

  /// The current count.
  std::int64_t count() const noexcept { return count_.load(std::memory_order_acquire); }

 private:
  static void dequeue(detail::ParkOp* op) noexcept;
  void enqueue(detail::ParkOp& op) noexcept;
  void wake_all() noexcept;

  friend class WaitAwait;
  std::atomic<std::int64_t> count_{0};
  std::atomic<std::int32_t> waiting_{0};  // parked waiters; lets done() skip the lock
  detail::SpinMutex mu_;
  detail::List<detail::ParkOp, detail::QueueTag> waiters_;  // guarded by mu_
};

/// What WaitGroup::wait returns: an awaiter in the awaiting frame, no coroutine of its own.
class WaitGroup::WaitAwait {
 public:
  WaitAwait(WaitGroup& wg, const Context& ctx, std::source_location where) noexcept
      : wg_(wg), ctx_(ctx), where_(where) {}
  WaitAwait(const WaitAwait&) = delete;
  WaitAwait& operator=(const WaitAwait&) = delete;

  /// Throws std::logic_error if it must wait outside a fiber.
  bool await_ready() {
    if (wg_.count() == 0) return true;
    cancel_ = detail::CancelRef(ctx_.canceller());
    op_.prepare(cancel_.get(), where_);
    parked_ = true;
    return false;
  }
  void await_suspend(std::coroutine_handle<> waiter) noexcept {
    auto enqueue = [this](detail::ParkOp& op) noexcept { wg_.enqueue(op); };
    op_.park(waiter, enqueue);
  }
  std::error_code await_resume() const noexcept { return parked_ ? op_.result() : detail::no_error; }

 private:
  WaitGroup& wg_;
  const Context& ctx_;
  std::source_location where_;
  bool parked_ = false;
  detail::CancelRef cancel_{nullptr};
  detail::ParkOp op_;
};

inline WaitGroup::WaitAwait WaitGroup::wait(const Context& ctx, std::source_location where) {
  return {*this, ctx, where};
}

}  // namespace spindle
