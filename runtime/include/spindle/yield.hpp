// yield: Go's runtime.Gosched() — let the worker's other ready work run, then continue.
#pragma once

#include <optional>

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

  /// Asio's hook, run once the awaiting coroutine is suspended.
  FiberThread* operator()(FrameBase* frame);

 private:
  static void run(RunNode* node);
  static void abandon(RunNode* node) noexcept;
  static const Ops ops;

  FiberRecord* fiber_ = nullptr;
  std::optional<ParkedThread> thread_;
};

}  // namespace detail

/// `co_await yield();` suspends the fiber and puts it at the back of its worker's queue:
/// fibers already runnable there, and I/O completions already collected, go first. For a
/// loop that would otherwise ask the kernel for input too early — a server that answered a
/// request reads the next one after its neighbours ran, by which time it has often arrived.
/// Throws std::logic_error outside a fiber.
inline detail::YieldAwait yield() noexcept { return {}; }

}  // namespace spindle
