// The nodes of the context tree. Public code uses spindle::Context; this is its machinery.
#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <system_error>

#include "spindle/detail/block_cache.hpp"
#include "spindle/detail/intrusive_list.hpp"
#include "spindle/detail/ref_counted.hpp"
#include "spindle/detail/spin_mutex.hpp"
#include "spindle/error.hpp"

namespace spindle::detail {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
inline constexpr TimePoint no_deadline = TimePoint::max();

class CancelNode;
class DeadlineQueue;
class SchedulerCore;

struct CtxWaitTag {};

/// Something parked on a context. `on_cancel` runs exactly once, under the context's lock and
/// after the waiter was unlinked, when the context is cancelled; it must not block or re-enter
/// the context (posting to an executor is fine).
class ContextWaiter : public Hook<CtxWaitTag> {
 public:
  using CancelFn = void (*)(ContextWaiter* self, std::error_code why) noexcept;
  explicit ContextWaiter(CancelFn fn) noexcept : on_cancel(fn) {}
  CancelFn on_cancel;
};

/// A node of the tree. A null node stands for background(): never cancelled, no values.
class ContextNode : public RefCounted, public CachedAllocation {
 public:
  const Ref<ContextNode>& parent() const noexcept { return parent_; }
  /// The nearest cancellable node on the path to the root (this one included); nullptr when
  /// nothing on the path can be cancelled.
  CancelNode* canceller() const noexcept { return canceller_; }
  /// The earliest deadline on the path to the root, or no_deadline.
  TimePoint deadline() const noexcept { return deadline_; }
  /// The value stored under `key` by this node or the nearest ancestor holding one.
  const void* find_value(const void* key) const noexcept;
  /// The scheduler whose root context this tree hangs from, if any (and if still alive).
  std::shared_ptr<SchedulerCore> scheduler() const noexcept;

 protected:
  ContextNode(Ref<ContextNode> parent, CancelNode* canceller, TimePoint deadline) noexcept
      : parent_(std::move(parent)), canceller_(canceller), deadline_(deadline) {}
  virtual const void* own_value(const void* /*key*/) const noexcept { return nullptr; }
  virtual std::shared_ptr<SchedulerCore> own_scheduler() const noexcept { return nullptr; }
  void set_canceller(CancelNode* c) noexcept { canceller_ = c; }

  // CancelNode's lock and state. Declared here, first, so they sit in the padding after
  // RefCounted's count instead of costing a word in every cancellable node (every fiber).
  mutable SpinMutex mu_;
  std::atomic<std::uint8_t> state_{0};  // 0 or an Errc

 private:
  Ref<ContextNode> parent_;
  CancelNode* canceller_;
  TimePoint deadline_;
};

struct ChildTag {};

/// A node that can be cancelled: it owns a waiter list and the list of cancellable
/// descendants to which cancellation propagates.
class CancelNode : public ContextNode, public Hook<ChildTag> {
 public:
  /// A cancellable child of `parent` (null: background). If the parent is already done,
  /// the child starts done with the same error and cause.
  static Ref<CancelNode> make(const Ref<ContextNode>& parent);

  bool done() const noexcept { return state_.load(std::memory_order_acquire) != 0; }
  std::error_code err() const noexcept {
    auto s = state_.load(std::memory_order_acquire);
    return s ? make_error_code(static_cast<Errc>(s)) : std::error_code{};
  }
  std::exception_ptr cause() const;

  /// Cancels this node and its subtree (never anything above it), wakes every waiter, and
  /// releases its registration in the parent. Returns false if it was already done.
  /// Safe from any thread.
  bool cancel(Errc why, std::exception_ptr cause = nullptr) noexcept;

  /// Registers `w`; returns false, without registering, if the node is already done.
  bool add_waiter(ContextWaiter* w) noexcept;
  /// Unregisters `w` if it is still registered (it is not once it has been told); returns
  /// whether it was.
  bool remove_waiter(ContextWaiter* w) noexcept;

  /// Links into the parent's canceller, or inherits its cancellation if it is already done.
  /// Called once, right after construction, before the node is shared.
  void attach() noexcept;

 protected:
  explicit CancelNode(Ref<ContextNode> parent, TimePoint deadline) noexcept;
  ~CancelNode() override;
  /// Called once, outside the lock, after this node was cancelled.
  virtual void on_cancelled() noexcept {}

 private:
  bool cancel_one(Errc why, std::exception_ptr cause, CancelNode*& pending) noexcept;
  void detach_from_parent() noexcept;

  std::exception_ptr cause_;
  List<ContextWaiter, CtxWaitTag> waiters_;
  List<CancelNode, ChildTag> children_;
};

/// A cancellable node that also cancels itself with deadline_exceeded at its deadline.
class DeadlineNode final : public CancelNode {
 public:
  /// A child of `parent` that expires at `when`. If the parent's deadline is not later, a
  /// plain cancellable child is returned (its deadline already covers it).
  static Ref<CancelNode> make(const Ref<ContextNode>& parent, TimePoint when);
  /// make() for a caller that knows whether `when` has passed (a deadline it computed as now
  /// plus a timeout): spares reading the clock again, which costs ~50 ns in some VMs.
  static Ref<CancelNode> make(const Ref<ContextNode>& parent, TimePoint when, bool passed);

  /// Bookkeeping of the DeadlineQueue that holds this node; guarded by the queue's lock.
  std::size_t heap_index = static_cast<std::size_t>(-1);

 private:
  DeadlineNode(Ref<ContextNode> parent, TimePoint when) noexcept;
  ~DeadlineNode() override;
  void on_cancelled() noexcept override;

  std::shared_ptr<DeadlineQueue> queue_;
};

/// A node carrying one value under a key; cancellation and deadline are its parent's.
template <class T>
class ValueNode final : public ContextNode {
 public:
  ValueNode(Ref<ContextNode> parent, const void* key, T value)
      : ContextNode(parent, parent ? parent->canceller() : nullptr,
                    parent ? parent->deadline() : no_deadline),
        key_(key),
        value_(std::move(value)) {}

 private:
  const void* own_value(const void* key) const noexcept override {
    return key == key_ ? &value_ : nullptr;
  }
  const void* key_;
  T value_;
};

/// without_cancel(): keeps the parent's values, drops its cancellation and deadline.
class DetachedNode final : public ContextNode {
 public:
  explicit DetachedNode(Ref<ContextNode> parent) noexcept
      : ContextNode(std::move(parent), nullptr, no_deadline) {}
};

/// The root of a scheduler's tree; cancelled by Scheduler::shutdown.
class RootNode final : public CancelNode {
 public:
  static Ref<CancelNode> make(std::weak_ptr<SchedulerCore> scheduler);

 private:
  explicit RootNode(std::weak_ptr<SchedulerCore> scheduler) noexcept
      : CancelNode(nullptr, no_deadline), scheduler_(std::move(scheduler)) {}
  std::shared_ptr<SchedulerCore> own_scheduler() const noexcept override {
    return scheduler_.lock();
  }
  std::weak_ptr<SchedulerCore> scheduler_;
};

}  // namespace spindle::detail
