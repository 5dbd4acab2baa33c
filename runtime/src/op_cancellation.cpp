#include "spindle/detail/op_cancellation.hpp"

#include <asio/post.hpp>
#include <atomic>
#include <cstdint>
#include <stdexcept>

#include "spindle/detail/worker.hpp"

namespace spindle::detail {

/// The context's waiter and the operation's cancellation signal. Bridges are recycled through
/// a per-thread pool, so a reused bridge keeps its signal and with it the memory Asio
/// allocated for the slot's handler (Asio frees that memory only when the slot is cleared or
/// the signal dies, and otherwise allocates it aligned, past malloc's per-thread cache, on
/// every operation).
///
/// A cancel from another thread posts the emit with a counted reference to the bridge. Such a
/// late emit must not reach the next operation that reuses the bridge; a bridge therefore
/// returns to a pool only when its count drops to zero, so it cannot be reused while a posted
/// emit is pending. Because the slot is no longer cleared when the operation ends (clearing
/// frees the handler's memory), the finished operation's handler stays installed until the
/// next one replaces it; `active` keeps a late emit from calling it, since the objects it
/// points at (a socket's reactor state) may be gone by then. Both `active` and the emit are
/// touched only on the operation's thread, the one thread that runs its io_context.
///
/// The bridge holds its context by a plain pointer: the awaiting caller keeps the context
/// alive for the whole await (see await_asio), the pointer is used only by OpCancellation,
/// and a posted emit touches nothing but the bridge.
class OpCancellation::Bridge final : public ContextWaiter, public CachedAllocation {
 public:
  Bridge() noexcept : ContextWaiter(&on_cancel) {}

  /// A bridge from the calling thread's pool, or a new one, bound to `ctx` and `io`.
  static Bridge* acquire(CancelNode* ctx, asio::io_context& io);
  /// Drops one reference; the last one recycles the bridge.
  void release() noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) recycle();
  }
  /// Recycles the bridge when the caller knows it holds the only reference, without the
  /// atomic read-modify-write of release().
  void release_sole() noexcept { recycle(); }

  asio::cancellation_signal signal;
  CancelNode* ctx = nullptr;
  asio::io_context* io = nullptr;
  bool registered = false;  // add_waiter succeeded
  bool active = false;      // the operation has not ended; a posted emit may still fire

 private:
  struct PostedEmit;
  void recycle() noexcept;

  static void on_cancel(ContextWaiter* w, std::error_code) noexcept;

  std::atomic<std::uint32_t> refs_{1};
};

/// The handler of a posted emit: owns one reference to the bridge.
struct OpCancellation::Bridge::PostedEmit {
  Bridge* bridge;
  explicit PostedEmit(Bridge* b) noexcept : bridge(b) {}
  PostedEmit(PostedEmit&& o) noexcept : bridge(std::exchange(o.bridge, nullptr)) {}
  PostedEmit& operator=(PostedEmit&&) = delete;
  ~PostedEmit() {
    if (bridge) bridge->release();
  }
  void operator()() {
    if (bridge->active) bridge->signal.emit(asio::cancellation_type::terminal);
  }
};

void OpCancellation::Bridge::on_cancel(ContextWaiter* w, std::error_code) noexcept {
  auto* self = static_cast<Bridge*>(w);
  if (self->io->get_executor().running_in_this_thread()) {
    // Same thread as the operation: emitting here is what Asio allows; it only posts the
    // aborted completion.
    self->signal.emit(asio::cancellation_type::terminal);
    return;
  }
  self->refs_.fetch_add(1, std::memory_order_relaxed);
  asio::post(*self->io, PostedEmit{self});
}

namespace {

constexpr std::uint32_t max_pooled = 64;  // per thread

// Trivially destructible, so a bridge released while the thread's thread_local objects are
// being destroyed still finds it; `closed` then deletes such bridges. Unlike the block cache,
// the pool stays on under the sanitizers: its reuse (a posted emit racing a bridge's next
// use) is what ThreadSanitizer should watch, and a new or dropped bridge still goes through
// the global allocator there.
struct BridgePool {
  OpCancellation::Bridge* items[max_pooled];
  std::uint32_t count;
  bool closed;
  bool drain_registered;
};
constinit thread_local BridgePool pool{};

/// Deletes the thread's pooled bridges when the thread ends.
struct PoolDrain {
  bool armed = false;
  ~PoolDrain() {
    while (pool.count) delete pool.items[--pool.count];
    pool.closed = true;
  }
};
thread_local PoolDrain pool_drain;

}  // namespace

OpCancellation::Bridge* OpCancellation::Bridge::acquire(CancelNode* ctx, asio::io_context& io) {
  Bridge* b = pool.count ? pool.items[--pool.count] : new Bridge();
  b->ctx = ctx;
  b->io = &io;
  b->active = true;
  return b;
}

void OpCancellation::Bridge::recycle() noexcept {
  if (pool.closed || pool.count == max_pooled) {
    delete this;
    return;
  }
  if (!pool.drain_registered) {
    pool.drain_registered = true;
    pool_drain.armed = true;  // the first use constructs the thread's PoolDrain
  }
  // No one else sees the bridge now; its next use starts with the one reference acquire()
  // hands out.
  refs_.store(1, std::memory_order_relaxed);
  pool.items[pool.count++] = this;
}

OpCancellation::OpCancellation(const Context& ctx) {
  CancelNode* canceller = ctx.canceller();
  if (!canceller) return;
  asio::io_context* io = current_io();
  if (!io) throw std::logic_error("spindle: a cancellable await must run on a scheduler worker");
  bridge_ = Bridge::acquire(canceller, *io);
  // If the context is already done it is not registered; callers check done() after
  // constructing this and before starting the operation.
  bridge_->registered = canceller->add_waiter(bridge_);
}

OpCancellation::~OpCancellation() {
  if (!bridge_) return;
  bridge_->active = false;
  // Still registered: on_cancel never ran and now never will, so no emit was posted and this
  // is the only reference.
  if (bridge_->registered && bridge_->ctx->remove_waiter(bridge_)) {
    bridge_->release_sole();
  } else {
    bridge_->release();
  }
}

CancelNode* OpCancellation::context() const noexcept { return bridge_ ? bridge_->ctx : nullptr; }

asio::cancellation_slot OpCancellation::slot() noexcept {
  return bridge_ ? bridge_->signal.slot() : asio::cancellation_slot();
}

}  // namespace spindle::detail
