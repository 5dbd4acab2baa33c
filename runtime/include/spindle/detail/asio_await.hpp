// Awaiting one Asio operation inside the caller's coroutine frame, with the fiber's context
// bound to it: no extra coroutine frame per operation (asio::use_awaitable adds one), which
// keeps an idle connection small and an I/O call cheap.
#pragma once

#include <asio/cancellation_signal.hpp>
#include <source_location>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "spindle/context.hpp"
#include "spindle/detail/block_cache.hpp"
#include "spindle/detail/fiber_executor.hpp"
#include "spindle/detail/op_cancellation.hpp"
#include "spindle/detail/park.hpp"
#include "spindle/detail/worker.hpp"

namespace spindle::detail {

/// The completion handler: records the outcome through `Deliver` (an aborted operation
/// reports its context's error), then resumes the fiber. Its executor is the fiber's own,
/// concrete type — not the type-erased one — so Asio's per-operation work tracking stays small.
template <class Deliver>
class AsioResume {
 public:
  AsioResume(FiberThread* thread, Deliver deliver, CancelNode* ctx, FiberExecutor executor,
             asio::cancellation_slot slot)
      : thread_(thread), deliver_(std::move(deliver)), ctx_(ctx), executor_(std::move(executor)), slot_(slot) {}

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
    if (FiberRecord* fiber = current_fiber())
      fiber->await_site.store(std::source_location{}, std::memory_order_relaxed);
    ParkedThread thread = std::move(thread_);
    thread.resume();
  }

 private:
  ParkedThread thread_;
  Deliver deliver_;
  CancelNode* ctx_;
  FiberExecutor executor_;
  asio::cancellation_slot slot_;
};

/// co_await the object: starts the operation with `start(handler)` once the fiber is
/// suspended, and `deliver(ec, results...)` records the outcome before it resumes — or
/// `deliver(ctx.err())` at once, without starting it, if the context is already done. The
/// caller keeps `ctx` alive while awaiting (it is one of its locals or parameters).
template <class Deliver, class Start>
class AsioAwait {
 public:
  AsioAwait(const Context& ctx, std::source_location where, Deliver deliver, Start start)
      : cancellation_(ctx), where_(where), deliver_(std::move(deliver)), start_(std::move(start)) {}

  FiberThread* operator()(FrameBase* frame) {
    CancelNode* ctx = cancellation_.context();
    if (ctx && ctx->done()) {
      deliver_(ctx->err());  // not suspended: the thread stays attached and continues at once
      return nullptr;
    }
    FiberRecord* fiber = current_fiber();
    asio::io_context* io = current_io();
    if (!fiber || !io) throw std::logic_error("spindle: I/O awaits must run in a fiber started by go()");
    note_park(fiber, where_);
    start_(AsioResume<Deliver>(frame->detach_thread(), deliver_, ctx,
                               FiberExecutor(io->get_executor(), fiber), cancellation_.slot()));
    return nullptr;
  }

 private:
  OpCancellation cancellation_;
  std::source_location where_;
  Deliver deliver_;
  Start start_;
};

/// See AsioAwait.
template <class Deliver, class Start>
AsioAwait<Deliver, Start> await_asio(const Context& ctx, std::source_location where, Deliver deliver,
                                     Start start) {
  return {ctx, where, std::move(deliver), std::move(start)};
}

}  // namespace spindle::detail
