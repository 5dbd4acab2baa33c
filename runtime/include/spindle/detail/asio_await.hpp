// Awaiting one Asio operation inside the caller's coroutine frame, with the fiber's context
// bound to it: no extra coroutine frame per operation (asio::use_awaitable adds one), which
// keeps an idle connection small and an I/O call cheap.
#pragma once

#include <asio/cancellation_signal.hpp>
#include <coroutine>
#include <source_location>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "spindle/context.hpp"
#include "spindle/detail/block_cache.hpp"
#include "spindle/detail/fiber_executor.hpp"
#include "spindle/detail/fiber_record.hpp"
#include "spindle/detail/op_cancellation.hpp"
#include "spindle/detail/worker.hpp"

namespace spindle::detail {

/// The completion handler: records the outcome through `Deliver` (an aborted operation
/// reports its context's error), then resumes the fiber. Its executor is the fiber's own,
/// concrete type — not the type-erased one — so Asio's per-operation work tracking stays small.
/// It owns the suspended fiber: destroyed without running (the scheduler's teardown), it has
/// the fiber's frames destroyed.
template <class Deliver>
class AsioResume {
 public:
  AsioResume(std::coroutine_handle<> waiter, Deliver deliver, CancelNode* ctx, FiberExecutor executor,
             asio::cancellation_slot slot)
      : waiter_(waiter), deliver_(std::move(deliver)), ctx_(ctx), executor_(std::move(executor)), slot_(slot) {}
  AsioResume(AsioResume&& o) noexcept
      : waiter_(std::exchange(o.waiter_, {})),
        deliver_(std::move(o.deliver_)),
        ctx_(o.ctx_),
        executor_(std::move(o.executor_)),
        slot_(o.slot_) {}
  AsioResume& operator=(AsioResume&&) = delete;
  ~AsioResume() {
    if (waiter_) executor_.fiber()->tear_down_later();
  }

  using executor_type = FiberExecutor;
  executor_type get_executor() const noexcept { return executor_; }
  using cancellation_slot_type = asio::cancellation_slot;
  cancellation_slot_type get_cancellation_slot() const noexcept { return slot_; }
  /// Asio allocates the operation object with this.
  using allocator_type = CachedAllocator<void>;
  allocator_type get_allocator() const noexcept { return {}; }

  template <class... Args>
  void operator()(std::error_code ec, Args&&... args) {
    if (ec == asio::error::operation_aborted && ctx_ && ctx_->done()) ec = ctx_->err();
    deliver_(ec, std::forward<Args>(args)...);
    executor_.fiber()->await_site.store(std::source_location{}, std::memory_order_relaxed);
    // Run through the fiber's executor, so the fiber is the thread's current one.
    std::exchange(waiter_, {}).resume();
  }

 private:
  std::coroutine_handle<> waiter_;
  Deliver deliver_;
  CancelNode* ctx_;
  FiberExecutor executor_;
  asio::cancellation_slot slot_;
};

/// co_await the object: starts the operation with `start(handler)` once the fiber is
/// suspended, and `deliver(ec, results...)` records the outcome before it resumes — or
/// `deliver(ctx.err())` at once, without suspending or starting it, if the context is already
/// done. The caller keeps `ctx` alive while awaiting (it is one of its locals or parameters).
template <class Deliver, class Start>
class AsioAwait {
 public:
  AsioAwait(const Context& ctx, std::source_location where, Deliver deliver, Start start)
      : cancellation_(ctx), where_(where), deliver_(std::move(deliver)), start_(std::move(start)) {}

  /// Throws std::logic_error outside a fiber.
  bool await_ready() {
    CancelNode* ctx = cancellation_.context();
    if (ctx && ctx->done()) {
      deliver_(ctx->err());
      return true;
    }
    fiber_ = current_fiber();
    io_ = current_io();
    if (!fiber_ || !io_) throw std::logic_error("spindle: I/O awaits must run in a fiber started by go()");
    note_park(fiber_, where_);
    return false;
  }
  void await_suspend(std::coroutine_handle<> waiter) {
    start_(AsioResume<Deliver>(waiter, deliver_, cancellation_.context(), FiberExecutor(io_->get_executor(), fiber_),
                               cancellation_.slot()));
  }
  void await_resume() const noexcept {}

 private:
  OpCancellation cancellation_;
  std::source_location where_;
  Deliver deliver_;
  Start start_;
  FiberRecord* fiber_ = nullptr;
  asio::io_context* io_ = nullptr;
};

/// See AsioAwait.
template <class Deliver, class Start>
AsioAwait<Deliver, Start> await_asio(const Context& ctx, std::source_location where, Deliver deliver,
                                     Start start) {
  return {ctx, where, std::move(deliver), std::move(start)};
}

}  // namespace spindle::detail
