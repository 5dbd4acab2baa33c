// Task<T>: the return type of every fiber function and every spindle await.
#pragma once

#include <coroutine>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include "spindle/detail/block_cache.hpp"

namespace spindle {

template <class T = void>
class Task;

namespace detail {

/// What every task's promise holds: the coroutine awaiting it, how it is being run, and the
/// exception it ended with. Frames come from the per-thread block cache.
class TaskPromiseBase : public CachedAllocation {
 public:
  std::suspend_always initial_suspend() const noexcept { return {}; }

  /// At the end a task returns to whoever runs it. Started by its awaiter (the usual case:
  /// it ended without waiting), that is the awaiter, which continues the caller on the same
  /// stack. Resumed later (it had waited), it continues the caller itself.
  struct FinalAwait {
    bool await_ready() const noexcept { return false; }
    template <class Promise>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> self) const noexcept {
      TaskPromiseBase& p = self.promise();
      if (p.started_inline_) return std::noop_coroutine();
      return p.continuation_;
    }
    void await_resume() const noexcept {}
  };
  FinalAwait final_suspend() const noexcept { return {}; }
  void unhandled_exception() noexcept { error_ = std::current_exception(); }

 protected:
  template <class>
  friend class spindle::Task;
  void rethrow_if_failed() const {
    if (error_) std::rethrow_exception(error_);
  }
  std::coroutine_handle<> continuation_;
  std::exception_ptr error_;
  bool started_inline_ = false;
};

template <class T>
class TaskPromise final : public TaskPromiseBase {
 public:
  Task<T> get_return_object() noexcept;
  template <class U = T>
    requires std::is_convertible_v<U&&, T>
  void return_value(U&& v) noexcept(std::is_nothrow_constructible_v<T, U&&>) {
    value_.emplace(std::forward<U>(v));
  }
  T take() {
    rethrow_if_failed();
    return std::move(*value_);
  }

 private:
  std::optional<T> value_;
};

template <>
class TaskPromise<void> final : public TaskPromiseBase {
 public:
  Task<void> get_return_object() noexcept;
  void return_void() const noexcept {}
  void take() const { rethrow_if_failed(); }
};

}  // namespace detail

/// A C++20 coroutine that a fiber runs: `Task<int> f(Context ctx) { co_return 42; }`. It
/// starts when awaited (`co_await f(ctx)`) or when go() runs it as a fiber, and owns its frame:
/// destroying a task that has not finished destroys the coroutines it awaits, innermost last.
/// Awaiting one that finishes without waiting runs on the caller's stack and back, with no
/// trip through a scheduler; one that waits resumes its caller itself when it is done.
template <class T>
class [[nodiscard]] Task {
 public:
  using value_type = T;
  using promise_type = detail::TaskPromise<T>;

  Task(Task&& o) noexcept : frame_(std::exchange(o.frame_, {})) {}
  Task& operator=(Task&& o) noexcept {
    if (this != &o) {
      if (frame_) frame_.destroy();
      frame_ = std::exchange(o.frame_, {});
    }
    return *this;
  }
  ~Task() {
    if (frame_) frame_.destroy();
  }

  bool await_ready() const noexcept { return false; }
  /// Runs the task on this stack until it ends or waits; true (stay suspended) if it waits.
  bool await_suspend(std::coroutine_handle<> caller) noexcept {
    promise_type& p = frame_.promise();
    p.continuation_ = caller;
    p.started_inline_ = true;
    frame_.resume();
    p.started_inline_ = false;
    return !frame_.done();
  }
  T await_resume() { return frame_.promise().take(); }

 private:
  friend promise_type;
  explicit Task(std::coroutine_handle<promise_type> frame) noexcept : frame_(frame) {}
  std::coroutine_handle<promise_type> frame_;
};

namespace detail {
template <class T>
Task<T> TaskPromise<T>::get_return_object() noexcept {
  return Task<T>(std::coroutine_handle<TaskPromise>::from_promise(*this));
}
inline Task<void> TaskPromise<void>::get_return_object() noexcept {
  return Task<void>(std::coroutine_handle<TaskPromise>::from_promise(*this));
}
}  // namespace detail

}  // namespace spindle
