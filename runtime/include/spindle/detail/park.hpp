// Parking a fiber on a spindle primitive: the one wait mechanism behind ctx.wait(), join(),
// WaitGroup, channels and select. A parked op is woken exactly once — by its primitive
// (notify), by its context (cancel) or by shutdown (destroy) — whichever claims it first.
#pragma once

#include <asio/async_result.hpp>
#include <asio/associated_executor.hpp>
#include <asio/execution/blocking.hpp>
#include <asio/require.hpp>
#include <asio/use_awaitable.hpp>
#include <atomic>
#include <source_location>
#include <system_error>
#include <utility>

#include "spindle/detail/context_node.hpp"
#include "spindle/detail/fiber_record.hpp"

namespace spindle::detail {

/// What a parked fiber is resumed with: empty, or why it was not woken by its primitive.
struct Woken {
  std::error_code ec;
};

struct QueueTag {};

/// A fiber parked on a primitive. It sits in the primitive's wait list (QueueTag hook) and in
/// its context's waiter list. Wakers `try_claim()` it and, if they win, `complete()` it; the
/// resumption is posted to the fiber's own executor, where the op unlinks itself from both
/// lists (taking each lock on its own, so no lock order exists between them) and is freed.
class ParkOp : public ContextWaiter, public Hook<QueueTag> {
 public:
  enum class Action { resume, destroy };
  using ActFn = void (*)(ParkOp*, Action) noexcept;

  /// Exactly one caller ever gets true.
  bool try_claim() noexcept {
    std::uint8_t expected = 0;
    return state_.compare_exchange_strong(expected, 1, std::memory_order_acq_rel);
  }
  bool claimed() const noexcept { return state_.load(std::memory_order_acquire) != 0; }

  /// After a successful claim: records the outcome and schedules the fiber's resumption.
  void complete(std::error_code ec = {}) noexcept {
    result_ = ec;
    act_(this, Action::resume);
  }

  /// Shutdown only (workers stopped): destroys the op of a leaked fiber together with the
  /// fiber's frames, unless something already claimed it.
  void destroy_parked() noexcept {
    if (try_claim()) act_(this, Action::destroy);
  }

  /// Primitive-specific: where a value is handed over (e.g. a channel's receive slot).
  void* slot = nullptr;
  /// The primitive the op waits on, and how to take the op out of its list (under its lock)
  /// if it is still there when the op is resumed.
  void* owner = nullptr;
  void (*dequeue)(ParkOp*) noexcept = nullptr;

  /// Registers with `ctx` and the current fiber; returns false if `ctx` is already done, in
  /// which case the op has been claimed and completed with ctx's error.
  bool begin(CancelNode* ctx, std::source_location where) noexcept {
    fiber_ = current_fiber();
    if (fiber_) {
      fiber_->parked = this;
      fiber_->await_site.store(where, std::memory_order_relaxed);
    }
    if (ctx) {
      if (!ctx->add_waiter(this)) {
        try_claim();
        complete(ctx->err());
        return false;
      }
      ctx_ = Ref<CancelNode>(ctx);
    }
    return true;
  }

 protected:
  explicit ParkOp(ActFn act) noexcept : ContextWaiter(&on_context_cancel), act_(act) {}
  ~ParkOp() = default;

  /// Leaves the context's and the primitive's lists; runs on the fiber's thread.
  void unlink() noexcept {
    if (ctx_) ctx_->remove_waiter(this);
    if (dequeue) dequeue(this);
    if (fiber_ && fiber_->parked == this) {
      fiber_->parked = nullptr;
      fiber_->await_site.store(std::source_location{}, std::memory_order_relaxed);
    }
  }
  std::error_code result() const noexcept { return result_; }

 private:
  static void on_context_cancel(ContextWaiter* w, std::error_code why) noexcept {
    auto* op = static_cast<ParkOp*>(w);
    if (op->try_claim()) op->complete(why);
  }

  std::atomic<std::uint8_t> state_{0};
  ActFn act_;
  std::error_code result_;
  Ref<CancelNode> ctx_;
  FiberRecord* fiber_ = nullptr;
};

/// A ParkOp holding the Asio completion handler of the awaiting coroutine.
template <class Handler>
class ParkOpImpl final : public ParkOp {
 public:
  explicit ParkOpImpl(Handler h) : ParkOp(&act), handler_(std::move(h)) {}

 private:
  /// Posted to the fiber's executor; owns the op until it runs, and destroys it (with the
  /// fiber it would have resumed) if the executor is torn down first.
  struct Resumer {
    ParkOpImpl* op;
    explicit Resumer(ParkOpImpl* p) noexcept : op(p) {}
    Resumer(Resumer&& o) noexcept : op(std::exchange(o.op, nullptr)) {}
    ~Resumer() {
      if (op) op->destroy();
    }
    void operator()() { std::exchange(op, nullptr)->resume(); }
  };

  static void act(ParkOp* base, Action a) noexcept {
    auto* self = static_cast<ParkOpImpl*>(base);
    if (a == Action::destroy) {
      self->destroy();
      return;
    }
    auto ex = asio::get_associated_executor(self->handler_);
    asio::execution::execute(asio::require(ex, asio::execution::blocking.never), Resumer(self));
  }

  void resume() {
    unlink();
    Handler h = std::move(handler_);
    Woken w{result()};
    delete this;
    std::move(h)(w);
  }

  void destroy() noexcept {
    unlink();
    delete this;
  }

  Handler handler_;
};

/// Parks the calling fiber. `enqueue(op)` links the op into the primitive's wait list under
/// the primitive's lock — or, if what the fiber waits for already happened, claims and
/// completes it itself. `ctx` (may be null) aborts the wait when cancelled.
/// Await the result: `Woken w = co_await park(...)`.
template <class Enqueue>
auto park(CancelNode* ctx, std::source_location where, Enqueue enqueue, void* slot = nullptr) {
  return asio::async_initiate<const asio::use_awaitable_t<>&, void(Woken)>(
      [](auto handler, CancelNode* ctx, std::source_location where, Enqueue enqueue, void* slot) {
        // Runs once the coroutine is suspended, on its own thread: a completion posted from
        // another thread cannot resume it before this returns.
        auto* op = new ParkOpImpl<decltype(handler)>(std::move(handler));
        op->slot = slot;
        if (op->begin(ctx, where) && !op->claimed()) enqueue(*op);
      },
      asio::use_awaitable, ctx, where, std::move(enqueue), slot);
}

}  // namespace spindle::detail
