// yield: Go's runtime.Gosched() — let the worker's other ready work run, then continue.
#pragma once

#include <coroutine>

#include "spindle/detail/park.hpp"

namespace spindle {
namespace detail {

/// What yield() returns: co_awaited, it requeues the fiber at the back of its worker's run
/// queue, which runs after the I/O completions the worker has already collected. No
/// coroutine frame; it is moved only before it is awaited.
class YieldAwait : public RunNode {
 public:
  YieldAwait() noexcept : RunNode(&ops) {}
  YieldAwait(YieldAwait&&) noexcept : RunNode(&ops) {}
  YieldAwait& operator=(YieldAwait&&) = delete;

  /// Throws std::logic_error outside a fiber.
  bool await_ready();
  void await_suspend(std::coroutine_handle<> waiter) noexcept;
  void await_resume() const noexcept {}

 private:
  static void run(RunNode* node);
  static void abandon(RunNode* node) noexcept;
  static const Ops ops;

  FiberRecord* fiber_ = nullptr;
  std::coroutine_handle<> waiter_;
};

}  // namespace detail

/// `co_await yield();` suspends the fiber and puts it at the back of its worker's queue:
/// fibers already runnable there, and I/O completions already collected, go first. For a
/// loop that would otherwise ask the kernel for input too early — a server that answered a
/// request reads the next one after its neighbours ran, by which time it has often arrived.
/// Throws std::logic_error outside a fiber.
inline detail::YieldAwait yield() noexcept { return {}; }

}  // namespace spindle
