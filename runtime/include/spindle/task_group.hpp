// TaskGroup: Go's errgroup (Trio's nursery) for fibers — children under one context, the
// first failure cancels the rest, and no child outlives the group unnoticed.
#pragma once

#include <cstddef>
#include <exception>
#include <source_location>
#include <string>
#include <utility>

#include "spindle/context.hpp"
#include "spindle/detail/intrusive_list.hpp"
#include "spindle/detail/park.hpp"
#include "spindle/detail/spin_mutex.hpp"
#include "spindle/go.hpp"
#include "spindle/task.hpp"
#include "spindle/wait_group.hpp"

namespace spindle {

namespace detail {

/// What a group shares with its children (which may outlive the TaskGroup object).
class GroupState final : public RefCounted {
 public:
  GroupState(WithCancel<CancelCauseFunc> derived, std::size_t limit, std::string name,
             std::source_location created_at);

  Context ctx;
  CancelCauseFunc cancel;
  const std::size_t limit;
  const std::string name;
  const std::source_location created_at;
  WaitGroup children;

  /// Takes a run slot at once if the limit allows; else false.
  bool try_acquire() noexcept;
  /// Parks `op` until a slot is handed to it.
  void enqueue_for_slot(ParkOp& op) noexcept;
  /// A child ended (with `error` if it failed): records the first failure — cancelling the
  /// group's context with it as the cause — and hands the slot to a waiting spawner.
  void child_ended(std::exception_ptr error) noexcept;
  /// The first failure, if any.
  std::exception_ptr first_error() const;

 private:
  static void dequeue(ParkOp* op) noexcept;
  mutable SpinMutex mu_;
  std::size_t running_ = 0;                  // guarded by mu_
  std::exception_ptr first_error_;           // guarded by mu_
  List<ParkOp, QueueTag> slot_waiters_;      // guarded by mu_
};

template <class Fn, class... Args>
Task<void> group_child(Context ctx, Ref<GroupState> group, Fn fn, Args... args) {
  std::exception_ptr error;
  try {
    co_await std::invoke(std::move(fn), std::move(ctx), std::move(args)...);
  } catch (...) {
    error = std::current_exception();
  }
  group->child_ended(std::move(error));
}

Task<void> acquire_group_slot(Ref<GroupState> group);

}  // namespace detail

/// Children run as fibers under the group's own context, a child of the one given. wait()
/// waits for all of them and rethrows the first failure; that failure also cancels the
/// others at once (its exception is the context's cause()). With a limit, spawn() waits
/// while `limit` children run (errgroup's SetLimit). Always `co_await wait()` before the
/// group goes out of scope: a group destroyed with children still running cancels them and
/// logs an error — it never leaves one running unnoticed.
class TaskGroup {
 public:
  explicit TaskGroup(const Context& parent, std::size_t limit = 0, std::string name = "task group",
                     std::source_location where = std::source_location::current());
  ~TaskGroup();
  TaskGroup(const TaskGroup&) = delete;
  TaskGroup& operator=(const TaskGroup&) = delete;

  /// The group's context: cancelled by the first failure, by cancel(), after wait(), or
  /// with the parent.
  Context context() const { return group_->ctx; }

  /// Starts `f(ctx, args...)` as a child (arguments copied now). Waits first while the
  /// limit is reached; throws ContextError if the group's context ends meanwhile.
  template <class F, class... Args>
  Task<void> spawn(F f, Args... args) {
    if (!group_->try_acquire()) co_await detail::acquire_group_slot(group_);
    start(std::move(f), std::move(args)...);
  }

  /// Starts a child only if the limit allows it now (errgroup's TryGo).
  template <class F, class... Args>
  bool try_spawn(F&& f, Args&&... args) {
    if (!group_->try_acquire()) return false;
    start(std::forward<F>(f), std::forward<Args>(args)...);
    return true;
  }

  /// Waits until every child has ended, then cancels the group's context and rethrows the
  /// first failure, if there was one.
  Task<void> wait();

  /// Cancels every child.
  void cancel() noexcept { group_->cancel(nullptr); }

  /// Children running now.
  std::size_t running() const noexcept { return static_cast<std::size_t>(group_->children.count()); }

 private:
  template <class F, class... Args>
  void start(F&& f, Args&&... args) {
    group_->children.add(1);
    go(Spawn(group_->ctx, group_->name, Placement::inherit, group_->created_at),
       detail::group_child<std::decay_t<F>, std::decay_t<Args>...>, group_,
       std::forward<F>(f), std::forward<Args>(args)...)
        .detach();
  }

  detail::Ref<detail::GroupState> group_;
  bool waited_ = false;
};

}  // namespace spindle
