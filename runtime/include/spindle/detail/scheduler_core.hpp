// The scheduler's machinery: workers (one io_context and one thread each), the root context,
// and the shutdown sequence that ends in the leak report.
#pragma once

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "spindle/detail/context_node.hpp"
#include "spindle/detail/deadline_queue.hpp"
#include "spindle/detail/run_queue.hpp"
#include "spindle/fiber_info.hpp"

namespace spindle::detail {

class SchedulerCore;

/// An io_context whose services can be shut down and destroyed in two steps, so that every
/// worker's pending handlers are destroyed while every worker's services still exist.
class WorkerContext final : public asio::io_context {
 public:
  WorkerContext() : asio::io_context(1) {}
  using asio::execution_context::destroy;
  using asio::execution_context::shutdown;
};

/// One scheduler thread. Fibers spawned on it stay on it.
struct Worker {
  Worker(SchedulerCore& core, unsigned index);
  SchedulerCore& core;
  const unsigned index;
  WorkerContext io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> keep_running;
  std::shared_ptr<DeadlineQueue> deadlines;
  RunQueue run_queue;
  std::thread thread;
};

class SchedulerCore : public std::enable_shared_from_this<SchedulerCore> {
 public:
  /// `threads` and `idle_spin` as in SchedulerOptions.
  static std::shared_ptr<SchedulerCore> make(unsigned threads, std::chrono::microseconds idle_spin);
  ~SchedulerCore();
  /// As in SchedulerOptions: how long an idle worker polls before it sleeps; 0 never polls.
  std::chrono::microseconds idle_spin() const noexcept { return idle_spin_; }

  void start();
  /// See Scheduler::shutdown.
  std::vector<FiberInfo> shutdown(std::chrono::nanoseconds grace);

  const Ref<CancelNode>& root() const noexcept { return root_; }
  unsigned size() const noexcept { return static_cast<unsigned>(workers_.size()); }
  Worker& worker(unsigned i) noexcept { return *workers_[i]; }
  /// Round robin over the workers, for top-level fibers.
  Worker& next_worker() noexcept;
  /// False once shutdown has stopped the worker threads: nothing spawned then would run.
  bool accepting_fibers() const noexcept { return !stopped_.load(std::memory_order_acquire); }

  /// Live fibers of this scheduler (maintained by the registry).
  std::atomic<std::size_t> live{0};

 private:
  SchedulerCore(unsigned threads, std::chrono::microseconds idle_spin);
  /// The loop of worker `w`'s thread: runs its io_context until the scheduler stops it.
  void run_worker(Worker& w);
  std::vector<FiberInfo> unignored_fibers() const;
  void stop_workers();
  void destroy_remaining_fibers();

  std::vector<std::unique_ptr<Worker>> workers_;
  const std::chrono::microseconds idle_spin_;
  Ref<CancelNode> root_;
  std::atomic<unsigned> round_robin_{0};
  std::mutex lifecycle_;
  bool started_ = false;
  bool shut_down_ = false;
  std::atomic<bool> stopped_{false};
};

/// Records leaks reported by a shutdown, for spindle::testing::take_leaks().
void record_leaks(const std::vector<FiberInfo>& leaks);
/// Takes (and clears) the leaks recorded since the last call.
std::vector<FiberInfo> take_recorded_leaks();

}  // namespace spindle::detail
