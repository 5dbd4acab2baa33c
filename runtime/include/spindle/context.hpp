// Context: Go's context.Context for fibers — cancellation, deadlines and values, in a tree.
#pragma once

#include <chrono>
#include <exception>
#include <functional>
#include <optional>
#include <source_location>
#include <system_error>

#include "spindle/detail/context_node.hpp"
#include "spindle/task.hpp"

namespace spindle {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;

/// A typed key for context values; compare Go's unexported key types. Keys are compared by
/// address, so define each one once: `inline const ContextKey<std::string> request_id{"request_id"};`
template <class T>
class ContextKey {
 public:
  explicit constexpr ContextKey(const char* name) noexcept : name_(name) {}
  ContextKey(const ContextKey&) = delete;
  ContextKey& operator=(const ContextKey&) = delete;
  /// The name given at definition, for diagnostics.
  constexpr const char* name() const noexcept { return name_; }

 private:
  const char* name_;
};

/// A node of the context tree, cheap to copy (one reference count). Cancelling a node
/// cancels its subtree and nothing above it. A default-constructed Context is background():
/// never cancelled, no deadline, no values.
class Context {
 public:
  Context() noexcept = default;
  explicit Context(detail::Ref<detail::ContextNode> node) noexcept : node_(std::move(node)) {}

  /// True once the context is cancelled or its deadline passed. Never blocks.
  bool done() const noexcept;
  /// Why the context ended: Errc::canceled or Errc::deadline_exceeded; empty while active.
  std::error_code err() const noexcept;
  /// The cause given to a with_cancel_cause() cancel function on the path to the root; the
  /// err() as a ContextError when none was given; nullptr while active (Go's context.Cause).
  std::exception_ptr cause() const;
  /// The earliest deadline on the path to the root, if any.
  std::optional<TimePoint> deadline() const noexcept;

  /// The value stored under `key` by this context or the nearest ancestor, or nullptr.
  template <class T>
  const T* value(const ContextKey<T>& key) const noexcept {
    return node_ ? static_cast<const T*>(node_->find_value(&key)) : nullptr;
  }

  /// Suspends the fiber until the context is cancelled (Go's `<-ctx.Done()`); yields err().
  /// On a context that can never be cancelled this waits until shutdown destroys the fiber.
  /// The returned task holds its own reference, so the Context may be a temporary.
  Task<std::error_code> wait(std::source_location where = std::source_location::current()) const;

  /// The underlying node (for spindle's own primitives).
  const detail::Ref<detail::ContextNode>& node() const noexcept { return node_; }
  /// The node whose cancellation this context observes, or nullptr if it cannot be cancelled.
  detail::CancelNode* canceller() const noexcept { return node_ ? node_->canceller() : nullptr; }

 private:
  detail::Ref<detail::ContextNode> node_;
};

/// The empty root context (Go's context.Background()).
inline Context background() noexcept { return Context(); }

/// Cancels the context it came with; safe to call from any thread, any number of times.
class CancelFunc {
 public:
  explicit CancelFunc(detail::Ref<detail::CancelNode> node) noexcept : node_(std::move(node)) {}
  void operator()() const noexcept;

 private:
  detail::Ref<detail::CancelNode> node_;
};

/// Cancels the context it came with and records why (Go's CancelCauseFunc).
class CancelCauseFunc {
 public:
  explicit CancelCauseFunc(detail::Ref<detail::CancelNode> node) noexcept : node_(std::move(node)) {}
  /// A null `cause` records the plain Errc::canceled.
  void operator()(std::exception_ptr cause) const noexcept;

 private:
  detail::Ref<detail::CancelNode> node_;
};

/// A derived context with the function that cancels it: `auto [ctx, cancel] = with_cancel(parent);`
template <class Cancel>
struct WithCancel {
  Context ctx;
  Cancel cancel;
};

/// A child that is cancelled by `cancel()` or when `parent` is.
WithCancel<CancelFunc> with_cancel(const Context& parent);
/// Like with_cancel, and `cancel(cause)` records a cause that cause() returns.
WithCancel<CancelCauseFunc> with_cancel_cause(const Context& parent);
/// A child that is also cancelled, with Errc::deadline_exceeded, at `deadline`.
WithCancel<CancelFunc> with_deadline(const Context& parent, TimePoint deadline);
/// with_deadline(parent, now + timeout).
WithCancel<CancelFunc> with_timeout(const Context& parent, Clock::duration timeout);

/// A child carrying `value` under `key`; its cancellation is the parent's.
template <class T>
Context with_value(const Context& parent, const ContextKey<T>& key, T value) {
  return Context(detail::Ref<detail::ContextNode>(
      new detail::ValueNode<T>(parent.node(), &key, std::move(value)), detail::adopt_ref));
}

/// A child that keeps the parent's values but is never cancelled and has no deadline: for
/// cleanup that must finish even though the request that started it ended.
Context without_cancel(const Context& parent);

/// Stops a pending after_func.
class AfterFuncStop {
 public:
  AfterFuncStop() noexcept = default;
  explicit AfterFuncStop(std::function<bool()> stop) noexcept : stop_(std::move(stop)) {}
  /// Prevents the function from running; false if it already started (or was stopped).
  bool operator()() const;

 private:
  std::function<bool()> stop_;
};

/// Runs `f` once, posted to the calling thread's scheduler worker (or to spindle's timer
/// thread outside a scheduler), after `ctx` is done. If `ctx` already is, `f` is posted at once.
AfterFuncStop after_func(const Context& ctx, std::function<void()> f);

}  // namespace spindle
