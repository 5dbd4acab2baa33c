// Scheduler: the worker threads fibers run on, the root context, and shutdown with the
// leak report.
#pragma once

#include <chrono>
#include <memory>
#include <source_location>
#include <stdexcept>
#include <vector>

#include "spindle/context.hpp"
#include "spindle/fiber_info.hpp"
#include "spindle/go.hpp"

namespace spindle {

namespace detail {
class SchedulerCore;
}

/// Settings of a Scheduler.
struct SchedulerOptions {
  /// Worker threads, each running its own io_context; 0 means one per CPU the process may
  /// use (available_cpus(): its affinity, capped by a container's CPU limit).
  unsigned threads = 0;
  /// How long a worker that has run out of work keeps polling for more (ready sockets,
  /// timers, fibers woken from other threads) before it sleeps in epoll_wait. A sleeping
  /// worker is woken at the waker's expense — a client's write or another thread's post pays
  /// for the interrupt to an idle CPU, about 15 µs of its CPU in the virtual machines of
  /// docs/BENCHMARKS.md — and a client slowed that way sends less, so the server sleeps more.
  /// Polling bridges the short gaps of a busy server, as Go's scheduler does before parking a
  /// thread; the price is up to this much CPU each time a worker goes idle. A worker spins out
  /// of a budget its work earns — a quarter of the time it works — so a busy worker's short
  /// gaps are all bridged while a mostly idle one spends at most a quarter of its working time
  /// polling. 0: sleep at once, with no polling at all (not even the short wait for a reply
  /// from another worker).
  std::chrono::microseconds idle_spin{20};
};

/// N worker threads with one io_context each. Top-level fibers are spread over the workers
/// round robin; a fiber spawned by a fiber stays on its parent's thread unless asked
/// otherwise (Placement::spread). Destroying a Scheduler shuts it down with no grace.
class Scheduler {
 public:
  explicit Scheduler(SchedulerOptions options = {});
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  /// The root context: every fiber of this scheduler descends from it, and shutdown
  /// cancels it.
  Context context() const noexcept;
  /// The number of worker threads.
  unsigned thread_count() const noexcept;
  /// The io_context of worker `i`, for Asio objects a service wants on a given thread.
  asio::io_context& io_context(unsigned i) noexcept;

  /// Starts the worker threads. Idempotent; block_on() calls it.
  void start();

  /// Runs `f(ctx)` as a fiber named "main" under the root context and blocks the calling
  /// thread — which must not be a worker — until it ends; returns its value or rethrows.
  template <class F>
  auto block_on(F&& f, std::source_location where = std::source_location::current()) {
    start();
    auto fiber = go(Spawn(context(), "main", Placement::spread, where), std::forward<F>(f));
    return fiber.wait_blocking();
  }

  /// Ends the scheduler: cancels the root context, waits up to `grace` for every fiber to
  /// end, logs each fiber still alive (not on the ignore list) as one error line, stops the
  /// workers and destroys what is left of those fibers. Returns the fibers it reported, so a
  /// program can choose its exit code. Call it from outside the scheduler's fibers; a
  /// second call returns an empty list. A fiber that never awaits cannot be stopped: it
  /// keeps its worker thread and this call waits for it.
  std::vector<FiberInfo> shutdown(std::chrono::nanoseconds grace = std::chrono::seconds(10));

 private:
  std::shared_ptr<detail::SchedulerCore> core_;
};

}  // namespace spindle
