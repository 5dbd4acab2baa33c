// Channel<T>: Go's channels for fibers — unbuffered (rendezvous) or buffered, closable,
// every blocking operation aborted by its context without losing or duplicating a value.
#pragma once

#include <coroutine>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <source_location>
#include <stdexcept>
#include <system_error>
#include <utility>
#include <vector>

#include "spindle/context.hpp"
#include "spindle/detail/channel_core.hpp"
#include "spindle/task.hpp"

namespace spindle {

/// The result of a receive: a value, or why there is none (Errc::closed once the channel is
/// closed and drained, or the context's error). `while (auto v = co_await ch.recv(ctx))`
/// is Go's `for v := range ch`.
template <class T>
class Received {
 public:
  Received() = default;
  Received(std::optional<T> value, std::error_code error)
      : value_(std::move(value)), error_(error) {}

  explicit operator bool() const noexcept { return value_.has_value(); }
  T& operator*() & { return *value_; }
  T&& operator*() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  /// The value; throws std::bad_optional_access if there is none.
  T& value() { return value_.value(); }
  /// Errc::closed, the context's error, or empty when a value was received.
  std::error_code error() const noexcept { return error_; }
  /// True when the channel was closed and drained.
  bool closed() const noexcept { return error_ == Errc::closed; }

 private:
  std::optional<T> value_;
  std::error_code error_;
};

namespace detail {

/// A channel's state: the shared lists plus a fixed ring buffer of `capacity` values.
template <class T>
class ChannelState final : public ChannelBase {
 public:
  explicit ChannelState(std::size_t capacity)
      : capacity_(capacity), ring_(capacity ? capacity : 1) {}

  std::size_t capacity() const noexcept { return capacity_; }
  std::size_t size() const noexcept { return count_; }  // under the lock
  bool full() const noexcept { return count_ == capacity_; }
  // Indices wrap by a compare, not `%`: a 64-bit division would cost more than the rest of
  // an uncontended buffered send.
  void push(T&& v) noexcept {
    std::size_t tail = head_ + count_;
    if (tail >= ring_.size()) tail -= ring_.size();
    ring_[tail].emplace(std::move(v));
    ++count_;
  }
  T pop() noexcept {
    auto& cell = ring_[head_];
    T v = std::move(*cell);
    cell.reset();
    if (++head_ == ring_.size()) head_ = 0;
    --count_;
    return v;
  }

  /// Under the lock. Takes a value (from the buffer, refilled from a parked sender, or straight
  /// from a parked sender) into the case's std::optional<T>.
  static CaseResult recv_now(SelectCase& c) noexcept {
    auto& ch = static_cast<ChannelState&>(*c.channel);
    auto& out = *static_cast<std::optional<T>*>(c.slot);
    if (ch.count_ != 0) {
      out.emplace(ch.pop());
      if (ChanWaiter* s = claim_first(ch.senders)) {
        ch.push(std::move(*static_cast<T*>(s->slot)));
        wake(s);
      }
      return CaseResult::done;
    }
    if (ChanWaiter* s = claim_first(ch.senders)) {
      out.emplace(std::move(*static_cast<T*>(s->slot)));
      wake(s);
      return CaseResult::done;
    }
    return ch.closed ? CaseResult::closed : CaseResult::not_ready;
  }

  /// Under the lock. Gives the case's T to a parked receiver, or to the buffer if it has room.
  static CaseResult send_now(SelectCase& c) noexcept {
    auto& ch = static_cast<ChannelState&>(*c.channel);
    if (ch.closed) return CaseResult::closed;
    auto& value = *static_cast<T*>(c.slot);
    if (ChanWaiter* r = claim_first(ch.receivers)) {
      static_cast<std::optional<T>*>(r->slot)->emplace(std::move(value));
      wake(r);
      return CaseResult::done;
    }
    if (!ch.full()) {
      ch.push(std::move(value));
      return CaseResult::done;
    }
    return CaseResult::not_ready;
  }

  /// Closes the channel: parked receivers get Errc::closed (after the buffer drains, new
  /// ones do too), parked senders fail with ChannelClosed.
  void close() {
    std::lock_guard lock(*this);
    if (closed) throw ChannelClosed("spindle::Channel: close of closed channel");
    closed = true;
    const std::error_code ec = Errc::closed;
    while (ChanWaiter* r = claim_first(receivers)) wake(r, ec);
    while (ChanWaiter* s = claim_first(senders)) wake(s, ec);
  }

 private:
  const std::size_t capacity_;
  std::vector<std::optional<T>> ring_;
  std::size_t head_ = 0;
  std::size_t count_ = 0;
};

[[noreturn]] inline void throw_send_on_closed() {
  throw ChannelClosed("spindle::Channel: send on closed channel");
}

/// What Channel::send returns. co_awaited, it sends without a coroutine frame of its own: at
/// once when a receiver is parked or the buffer has room, else parked in the awaiting frame.
/// The channel and the context are borrowed until the operation parks, so the common path
/// costs no reference-count traffic; a parked operation holds references of its own, so a
/// handle reassigned or dropped meanwhile cannot free what it waits on.
template <class T>
class SendAwait : SingleAwait {
 public:
  SendAwait(ChannelState<T>& ch, const Context& ctx, T&& value, std::source_location where)
      : SingleAwait(ch, ctx, where), value_(std::move(value)) {}

  bool await_ready() {
    case_ = {&ch_, true, &value_, &ChannelState<T>::send_now};
    const CaseResult now = try_or_prepare<&ChannelState<T>::send_now>();
    if (now == CaseResult::closed) throw_send_on_closed();
    if (now == CaseResult::not_ready && !parking()) early_ = ctx_.err();
    return !parking();
  }
  void await_suspend(std::coroutine_handle<> waiter) noexcept { park(waiter); }
  /// Empty once delivered, or the context's error (the value was then not delivered, and is
  /// dropped with this object).
  std::error_code await_resume() {
    if (!parking()) return early_;
    if (op_.fired < 0) return op_.result();
    if (op_.result()) throw_send_on_closed();
    return no_error;
  }

 private:
  T value_;
  std::error_code early_ = no_error;
};

/// What Channel::recv returns; see SendAwait.
template <class T>
class RecvAwait : SingleAwait {
 public:
  RecvAwait(ChannelState<T>& ch, const Context& ctx, std::source_location where)
      : SingleAwait(ch, ctx, where) {}

  bool await_ready() {
    case_ = {&ch_, false, &out_, &ChannelState<T>::recv_now};
    const CaseResult now = try_or_prepare<&ChannelState<T>::recv_now>();
    if (now == CaseResult::closed) early_ = Errc::closed;
    else if (now == CaseResult::not_ready && !parking()) early_ = ctx_.err();
    return !parking();
  }
  void await_suspend(std::coroutine_handle<> waiter) noexcept { park(waiter); }
  /// A value, Errc::closed, or the context's error (nothing was consumed then).
  Received<T> await_resume() {
    // Parked and cancelled (fired < 0), or closed: nothing was taken.
    if (parking() && (op_.fired < 0 || op_.result())) return Received<T>(std::nullopt, op_.result());
    // The value and its flag are read apart, as recv_now wrote them: copying the optional
    // whole loads them in one access that store forwarding cannot serve (measured: the
    // stall was the costliest instruction of a fan-out worker's loop).
    if (out_) return Received<T>(std::optional<T>(std::move(*out_)), early_);
    return Received<T>(std::nullopt, early_);
  }

 private:
  std::optional<T> out_;
  std::error_code early_ = no_error;
};

}  // namespace detail

template <class T>
class RecvCase;
template <class T>
class SendCase;

/// A channel handle; copies share the channel (like Go's chan values). Safe to use from
/// fibers on any threads, and from threads that are no fibers for what does not wait.
/// Senders and receivers that block are woken in FIFO order.
///
/// A channel made in a fiber takes no lock while only fibers of that fiber's worker use it —
/// the common case, since a fiber's children start on its worker. The first use from another
/// thread waits once for that worker to reach its next handler boundary (within about
/// 100 µs unless a fiber blocks the thread), and from then on the channel locks.
template <class T>
class Channel {
 public:
  /// capacity 0: unbuffered — a send completes only when a receiver takes the value.
  explicit Channel(std::size_t capacity = 0)
      : state_(new detail::ChannelState<T>(capacity), detail::adopt_ref) {}

  /// Sends `value`, waiting for a receiver or buffer room. Yields an empty error code once
  /// delivered, or ctx.err() if the context ended first — the value was then not delivered.
  /// Throws ChannelClosed if the channel is (or gets) closed.
  ///
  /// Like an Asio I/O object's operations, the returned awaitable uses this handle and `ctx`
  /// by reference: await it in the expression that made it, `co_await ch.send(ctx, v)`
  /// (temporaries live until the await ends). Once parked it holds references of its own.
  detail::SendAwait<T> send(const Context& ctx, T value,
                            std::source_location where = std::source_location::current()) const {
    return {*state_, ctx, std::move(value), where};
  }

  /// Receives a value, waiting for one. Errc::closed once closed and drained; ctx.err() if
  /// the context ended first — nothing was consumed then. Await it at once, as send().
  detail::RecvAwait<T> recv(const Context& ctx,
                            std::source_location where = std::source_location::current()) const {
    return {*state_, ctx, where};
  }

  /// Sends without waiting: true if delivered (then `value` was moved from), false if it would
  /// block. Throws ChannelClosed on a closed channel.
  bool try_send(T& value) const {
    detail::SelectCase c{state_.get(), true, &value, &detail::ChannelState<T>::send_now};
    const auto r = detail::try_select_cases(&c, 1);
    if (r.error) detail::throw_send_on_closed();
    return r.index == 0;
  }
  /// try_send of a temporary.
  bool try_send(T&& value) const { return try_send(value); }

  /// Receives without waiting: a value, or nothing if none is ready (check closed()).
  std::optional<T> try_recv() const {
    std::optional<T> out;
    detail::SelectCase c{state_.get(), false, &out, &detail::ChannelState<T>::recv_now};
    detail::try_select_cases(&c, 1);
    return out;
  }

  /// Closes the channel (Go's close(ch)). Throws ChannelClosed if already closed.
  void close() const { state_->close(); }
  bool closed() const {
    std::lock_guard lock(*state_);
    return state_->closed;
  }
  /// Values buffered now.
  std::size_t size() const {
    std::lock_guard lock(*state_);
    return state_->size();
  }
  std::size_t capacity() const noexcept { return state_->capacity(); }

  /// A receive case for select().
  RecvCase<T> recv_case() const { return RecvCase<T>(state_); }
  /// A send case for select(); `value` is delivered only if this case fires.
  SendCase<T> send_case(T value) const { return SendCase<T>(state_, std::move(value)); }

  friend bool operator==(const Channel& a, const Channel& b) noexcept {
    return a.state_.get() == b.state_.get();
  }

 private:
  detail::Ref<detail::ChannelState<T>> state_;
};

/// A receive case of select(): after the select, holds the value if this case fired.
template <class T>
class RecvCase {
 public:
  explicit RecvCase(detail::Ref<detail::ChannelState<T>> ch) : ch_(std::move(ch)) {}
  RecvCase(const RecvCase&) = delete;
  RecvCase& operator=(const RecvCase&) = delete;

  explicit operator bool() const noexcept { return value_.has_value(); }
  T& operator*() { return *value_; }
  T* operator->() { return &*value_; }
  /// True if this case fired because the channel was closed and drained.
  bool closed() const noexcept { return closed_; }

  /// For select(): the untyped case.
  detail::SelectCase select_case() {
    value_.reset();
    closed_ = false;
    return {ch_.get(), false, &value_, &detail::ChannelState<T>::recv_now};
  }
  /// For select(): this case fired on a closed channel.
  void fired_closed() noexcept { closed_ = true; }

 private:
  detail::Ref<detail::ChannelState<T>> ch_;
  std::optional<T> value_;
  bool closed_ = false;
};

/// A send case of select(): its value is delivered only if this case fires, and stays here
/// otherwise (nothing is lost when another case or the context wins).
template <class T>
class SendCase {
 public:
  SendCase(detail::Ref<detail::ChannelState<T>> ch, T value)
      : ch_(std::move(ch)), value_(std::move(value)) {}
  SendCase(const SendCase&) = delete;
  SendCase& operator=(const SendCase&) = delete;

  /// The value still to send (moved from once this case fired).
  T& value() noexcept { return value_; }

  /// For select(): the untyped case.
  detail::SelectCase select_case() {
    return {ch_.get(), true, &value_, &detail::ChannelState<T>::send_now};
  }
  /// For select(): a send case cannot fire on a closed channel; it is an error.
  [[noreturn]] void fired_closed() { detail::throw_send_on_closed(); }

 private:
  detail::Ref<detail::ChannelState<T>> ch_;
  T value_;
};

}  // namespace spindle
