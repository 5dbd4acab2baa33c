// The untyped machinery of channels and select: wait lists, and the select engine that every
// channel send and receive goes through.
#pragma once

#include <coroutine>
#include <cstddef>
#include <source_location>
#include <stdexcept>
#include <system_error>

#include "spindle/context.hpp"
#include "spindle/detail/biased_lock.hpp"
#include "spindle/detail/intrusive_list.hpp"
#include "spindle/detail/park.hpp"
#include "spindle/detail/ref_counted.hpp"
#include "spindle/task.hpp"

namespace spindle {

/// Thrown on a send to (or a close of) a closed channel — a program error, as in Go.
class ChannelClosed : public std::logic_error {
 public:
  explicit ChannelClosed(const char* what) : std::logic_error(what) {}
};

/// The outcome of a select: which case fired, or why none did.
struct Selected {
  /// The index of the case that fired (in argument order); -1 if the context ended first.
  int index = -1;
  /// The context's error when index is -1.
  std::error_code error;
};

namespace detail {

struct ChanTag {};

/// One case of a parked select (a plain send or receive is a select of one case), linked
/// into its channel's senders or receivers.
struct ChanWaiter : Hook<ChanTag> {
  ParkOp* op = nullptr;
  void* slot = nullptr;  // send: the T to give; receive: the std::optional<T> to fill
  int index = 0;
};

class ChannelBase;

/// A plain send or receive parked on one channel: the op, its list entry, and the channel.
struct SingleWait {
  ChannelBase* channel;
  ChanWaiter waiter;
  /// ParkOp::dequeue for it (owner = the SingleWait).
  static void dequeue(ParkOp* op) noexcept;
};

/// What a channel of any element type shares: its lock and wait lists.
class ChannelBase : public RefCounted {
 public:
  /// The channel's lock (BasicLockable): free for the worker that made the channel until
  /// another thread uses it (see BiasedLock).
  void lock() noexcept { lock_.lock(); }
  void unlock() noexcept { lock_.unlock(); }
  /// Makes a later lock() of this thread not wait for a revocation, for a caller about to
  /// hold several channels' locks at once.
  void unbias() noexcept { lock_.unbias(); }

  List<ChanWaiter, ChanTag> senders;    // guarded by the lock
  List<ChanWaiter, ChanTag> receivers;  // guarded by the lock
  bool closed = false;                  // guarded by the lock

  /// Under the lock: claims the first waiter of `list` whose op can still be claimed; waiters
  /// of ops already claimed elsewhere (a select that fired on another case, a cancelled wait)
  /// are dropped on the way.
  static ChanWaiter* claim_first(List<ChanWaiter, ChanTag>& list) noexcept {
    while (ChanWaiter* w = list.pop_front())
      if (w->op->try_claim()) return w;
    return nullptr;
  }
  /// Under the lock: completes a claimed partner after its value was handed over.
  static void wake(ChanWaiter* w, std::error_code ec = {}) noexcept {
    w->op->fired = static_cast<std::int16_t>(w->index);
    w->op->complete(ec);
  }

 private:
  BiasedLock lock_;
};

/// What try_now reports.
enum class CaseResult { not_ready, done, closed };

/// A type-erased select case over one channel.
struct SelectCase {
  ChannelBase* channel;
  bool is_send;
  void* slot;
  /// Under the channel's lock: completes the case at once if it can (taking or giving a value,
  /// waking a partner), or reports that the channel is closed.
  CaseResult (*try_now)(SelectCase&) noexcept;
};

/// Under the channel's lock: links `wait` (for `op`) into the senders or receivers of `c`.
void link_single(ParkOp& op, SingleWait& wait, SelectCase& c) noexcept;

/// A plain send or receive as an awaitable, for Channel<T>::send and recv: it completes
/// without suspending when it can, else parks in the awaiting frame. Holding the channel's
/// lock from the first try until the waiter is linked makes the two one critical section:
/// nothing can change in between, and parking costs one lock round, not two.
class SingleAwait {
 protected:
  SingleAwait(ChannelBase& ch, const Context& ctx, std::source_location where) noexcept
      : ch_(ch), ctx_(ctx), where_(where) {}
  SingleAwait(const SingleAwait&) = delete;
  SingleAwait& operator=(const SingleAwait&) = delete;

  /// Takes the channel's lock and tries `case_` once, with the element type's own `try_now`
  /// called directly, so the common path inlines into the awaiting frame. Returns its result;
  /// on not_ready, when the op must park (ctx not done), it keeps the lock and prepares the
  /// op, and parking() turns true. Otherwise the lock is released. Throws std::logic_error
  /// outside a fiber.
  template <CaseResult (*try_now)(SelectCase&) noexcept>
  CaseResult try_or_prepare() {
    ch_.lock();
    const CaseResult now = try_now(case_);
    if (now != CaseResult::not_ready || ctx_.done()) {
      ch_.unlock();
      return now;
    }
    prepare_park();
    return now;  // still locked: park() links the waiter
  }
  /// try_or_prepare when the op must park: binds it to the calling fiber, keeping the lock.
  void prepare_park();
  /// Links the waiter, releases the lock, and parks the fiber (after try_or_prepare kept the lock).
  void park(std::coroutine_handle<> waiter) noexcept;
  bool parking() const noexcept { return parked_; }

  ChannelBase& ch_;
  const Context& ctx_;
  std::source_location where_;
  SelectCase case_{};
  bool parked_ = false;
  Ref<ChannelBase> keep_;  // while parked: a handle dropped meanwhile cannot free the channel
  CancelRef cancel_{nullptr};
  ParkOp op_;
  SingleWait wait_{};
};

/// Runs a select over `cases` (n >= 1): completes the first ready case, checking in an order
/// that starts at a random case so no ready case is starved; else parks on every channel and
/// on `ctx` at once until exactly one fires. Returns the fired index with an empty error, the
/// index with Errc::closed when that case's channel was closed, or -1 and ctx's error.
Task<Selected> select_cases(const Context& ctx, std::source_location where, SelectCase* cases,
                            std::size_t n);
/// The non-blocking form: the index of a case completed now, or -1 (Go's `default:`).
Selected try_select_cases(SelectCase* cases, std::size_t n);

}  // namespace detail
}  // namespace spindle
