// Parking a fiber on a spindle primitive: the one wait mechanism behind ctx.wait(), join(),
// WaitGroup, channels and select. A parked op is woken exactly once — by its primitive
// (notify), by its context (cancel) or by shutdown (destroy) — whichever claims it first.
#pragma once

#include <atomic>
#include <coroutine>
#include <source_location>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "spindle/detail/context_node.hpp"
#include "spindle/detail/fiber_record.hpp"
#include "spindle/detail/run_queue.hpp"

namespace spindle::detail {

struct QueueTag {};

/// A fiber parked on a primitive. It lives in the awaiting coroutine's frame, sits in the
/// primitive's wait list (QueueTag hook) and in its context's waiter list — or, until its
/// worker's batch ends, in the worker's list of registrations put off (same hook). Wakers
/// `try_claim()` it and, if they win, `complete()` it, which queues the fiber on its worker's
/// RunQueue; there the op unlinks itself from both lists (taking each lock on its own, so no
/// lock order exists between them) before the coroutine continues.
class ParkOp : public ContextWaiter, public Hook<QueueTag>, public RunNode {
 public:
  ParkOp() noexcept : ContextWaiter(&on_context_cancel), RunNode(&ops) {}
  ParkOp(const ParkOp&) = delete;
  ParkOp& operator=(const ParkOp&) = delete;

  /// Exactly one caller ever gets true.
  bool try_claim() noexcept {
    std::uint8_t expected = 0;
    return state_.compare_exchange_strong(expected, 1, std::memory_order_acq_rel);
  }
  bool claimed() const noexcept { return state_.load(std::memory_order_acquire) != 0; }

  /// After a successful claim: records the outcome (empty, or an Errc) and makes the fiber
  /// runnable on its worker.
  void complete(std::error_code ec = {}) noexcept {
    result_ = static_cast<std::uint8_t>(ec.value());
    fiber_->run_queue->push(this);
  }

  /// Shutdown only (workers stopped): destroys a leaked fiber parked here, unless something
  /// already claimed the op (then its queued resumption owns the fiber).
  void destroy_parked() noexcept {
    if (try_claim()) abandon(this);
  }

  /// Why the fiber was resumed: empty when its primitive woke it, else the context's error.
  std::error_code result() const noexcept {
    return result_ ? make_error_code(static_cast<Errc>(result_)) : no_error;
  }

  /// co_await the returned object to park the calling fiber: prepare(ctx, where) now, then
  /// park(waiter, enqueue) once suspended. Throws std::logic_error outside a fiber.
  template <class Enqueue>
  auto suspend(CancelNode* ctx, std::source_location where, Enqueue enqueue) {
    prepare(ctx, where);
    struct Awaiter {
      ParkOp& op;
      Enqueue enqueue;
      bool await_ready() const noexcept { return false; }
      void await_suspend(std::coroutine_handle<> waiter) noexcept { op.park(waiter, enqueue); }
      void await_resume() const noexcept {}
    };
    return Awaiter{*this, std::move(enqueue)};
  }

  /// The part of parking done before the fiber suspends: binds the op to the calling fiber
  /// and to `ctx` (may be null; the caller keeps it alive), which will abort the wait when
  /// cancelled, and records `where` as the fiber's await site. Throws std::logic_error
  /// outside a fiber.
  void prepare(CancelNode* ctx, std::source_location where) {
    fiber_ = current_fiber();
    if (!fiber_) throw std::logic_error("spindle: a spindle wait must run in a fiber started by go()");
    ctx_ = ctx;
    note_park(fiber_, where);
  }

  /// prepare() without recording an await site: for a primitive that holds its lock from
  /// before the fiber suspends until the op is linked, and records the site after unlocking.
  void bind(FiberRecord* fiber, CancelNode* ctx) noexcept {
    fiber_ = fiber;
    ctx_ = ctx;
  }
  FiberRecord* fiber() const noexcept { return fiber_; }

  /// Parks the suspended coroutine `waiter` (after prepare() or bind()). `enqueue(op)` links the op
  /// into the primitive's wait list under the primitive's lock — or, if what the fiber waits
  /// for already happened, claims and completes it itself; it must not throw. Runs on the
  /// fiber's own thread: a completion queued from another thread cannot resume the fiber
  /// before this returns.
  template <class Enqueue>
  void park(std::coroutine_handle<> waiter, Enqueue& enqueue) noexcept {
    waiter_ = waiter;
    fiber_->parked = this;
    // The primitive first: until the op is registered with its context, only the primitive
    // can claim it, which lets a select register on all its channels atomically.
    enqueue(*this);
    if (!ctx_ || claimed()) return;
    if (fiber_->run_queue->defer_registration(this)) deferred_ = true;
    else register_with_context();
  }

  /// The worker's batch ended with the op's registration put off (RunQueue::defer_registration)
  /// and already out of the worker's list: registers it now unless it was woken meanwhile.
  void register_deferred() noexcept {
    deferred_ = false;
    if (!claimed()) register_with_context();
  }

  /// The primitive the op waits on, and how to take the op out of its list (under its lock)
  /// if it is still there when the op is resumed.
  void* owner = nullptr;
  void (*dequeue)(ParkOp*) noexcept = nullptr;
  /// Which of several waits fired (a select's case index); -1 until one does. Set by the
  /// waker that claimed the op, before complete().
  std::int16_t fired = -1;

 private:
  static void run(RunNode* node) {
    auto* self = static_cast<ParkOp*>(node);
    self->unlink();
    CurrentFiber as(self->fiber_);
    self->waiter_.resume();  // `self` lives in the frame being resumed: not touched after this
  }

  /// The fiber will never be resumed (shutdown): destroy its frames.
  static void abandon(RunNode* node) noexcept {
    auto* self = static_cast<ParkOp*>(node);
    self->unlink();
    self->fiber_->destroy_frames();  // `self` is gone with them
  }

  static constexpr Ops ops{&run, &abandon};

  /// Leaves the context's and the primitive's lists; runs on the fiber's thread (or at
  /// shutdown, once the workers stopped).
  void unlink() noexcept {
    if (deferred_) {
      fiber_->run_queue->drop_deferred(this);
      deferred_ = false;
    } else if (ctx_) {
      ctx_->remove_waiter(this);
    }
    if (dequeue) dequeue(this);
    if (fiber_->parked == this) {
      fiber_->parked = nullptr;
      fiber_->await_site.store(std::source_location{}, std::memory_order_relaxed);
    }
  }

  /// Registers with the context; if it is already done, completes the op with its error.
  void register_with_context() noexcept {
    if (!ctx_->add_waiter(this) && try_claim()) complete(ctx_->err());
  }

  static void on_context_cancel(ContextWaiter* w, std::error_code why) noexcept {
    auto* op = static_cast<ParkOp*>(w);
    if (op->try_claim()) op->complete(why);
  }

  std::atomic<std::uint8_t> state_{0};
  std::uint8_t result_ = 0;  // 0 or an Errc
  bool deferred_ = false;    // in the worker's deferred registrations; the fiber's thread only
  CancelNode* ctx_ = nullptr;
  FiberRecord* fiber_ = nullptr;
  std::coroutine_handle<> waiter_;  // the innermost coroutine of the parked fiber
};

/// The cancellation node of a wait, kept alive for as long as the fiber may be parked on it.
/// The awaiting fiber's own node (the context a fiber function receives) outlives every wait
/// of that fiber, so it is borrowed; any other node gets a reference. Spares two atomic
/// operations on the common path of every channel and WaitGroup wait.
class CancelRef {
 public:
  explicit CancelRef(CancelNode* node) noexcept : node_(node) {
    if (node_ && node_ != static_cast<CancelNode*>(current_fiber())) owned_ = Ref<CancelNode>(node_);
  }
  CancelNode* get() const noexcept { return node_; }

 private:
  CancelNode* node_;
  Ref<CancelNode> owned_;
};

}  // namespace spindle::detail
