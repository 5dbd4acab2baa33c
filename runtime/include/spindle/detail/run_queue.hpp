// The per-worker queue of runnable fibers.
#pragma once

#include <asio/io_context.hpp>
#include <atomic>
#include <chrono>

#include "spindle/detail/intrusive_list.hpp"
#include "spindle/detail/spin_mutex.hpp"

namespace spindle::detail {

class SchedulerCore;
class ContextWaiter;
class ParkOp;
struct CtxWaitTag;

/// Something that can be made runnable on a worker: a fiber to start or to resume.
struct RunNode {
  struct Ops {
    void (*run)(RunNode*);             ///< runs it; the node may be gone afterwards
    void (*abandon)(RunNode*) noexcept;  ///< drops it without running (shutdown)
  };
  explicit RunNode(const Ops* ops) noexcept : ops(ops) {}
  const Ops* ops;
  RunNode* next_run = nullptr;
};

/// Fibers made runnable on one worker, run in FIFO batches from a single Asio handler. A
/// wake-up from the worker's own thread is a list append (no Asio operation, no lock), so
/// spawning, joining, channel hand-offs and cancellation fan-outs do not pay the io_context's
/// per-handler cost (an epoll_wait round, an allocation) once per fiber. Wake-ups from other
/// threads append under a short lock and post one batch at a time.
class RunQueue {
 public:
  /// `may_spin`: whether the worker may poll for cross-thread wake-ups (`spin`) before it
  /// hands its thread back to Asio; false for a scheduler that must not spin (idle_spin 0).
  RunQueue(asio::io_context& io, SchedulerCore* scheduler, unsigned worker, bool may_spin) noexcept
      : scheduler(scheduler), worker(worker), io_(io), may_spin_(may_spin) {}
  RunQueue(const RunQueue&) = delete;
  RunQueue& operator=(const RunQueue&) = delete;

  /// Makes `node` runnable. Safe from any thread.
  void push(RunNode* node) noexcept;
  /// The io_context whose thread runs this queue.
  asio::io_context& io() const noexcept { return io_; }
  SchedulerCore* const scheduler;  ///< the scheduler of this worker
  const unsigned worker;           ///< the worker's index
  /// Shutdown only (worker stopped): abandons every queued node; returns how many.
  std::size_t abandon_all() noexcept;

  /// On the worker's thread while it runs a batch: puts off registering `op` with its
  /// context until the batch ends, and returns true; else returns false (register now).
  /// Most parked fibers are woken within the batch that parked them (a channel hand-off, a
  /// join), and those then never take the context's lock at all, twice per wait. A
  /// cancellation meanwhile is seen when the op registers: at worst one batch late.
  bool defer_registration(ParkOp* op) noexcept;
  /// The op was woken before the batch ended: forgets its deferred registration.
  void drop_deferred(ParkOp* op) noexcept;

 private:
  /// How long a batch may run fibers before it yields to Asio, so I/O and timers keep
  /// flowing. Each yield costs an epoll_wait and a post (about 1.5 µs here), so a budget in
  /// time, not in fibers, keeps that cost under 2% however cheap the fibers are, and bounds
  /// how long a ready socket or timer waits behind them. The clock is read once per
  /// `clock_every` fibers, the first read starting the budget.
  static constexpr std::chrono::microseconds batch_budget{100};
  static constexpr int clock_every = 128;
  /// After running fibers woken from other threads, how long to poll for the next such
  /// wake-up before handing the thread back to Asio (which sleeps in epoll_wait and then
  /// needs an eventfd write and a thread wake-up, tens of microseconds, to come back).
  static constexpr std::chrono::microseconds spin{50};

  void schedule() noexcept;
  void drain();
  RunNode* pop_local() noexcept;
  bool take_remote() noexcept;
  bool spin_for_remote() noexcept;
  void register_deferred() noexcept;

  asio::io_context& io_;
  const bool may_spin_;
  RunNode* head_ = nullptr;  // owner thread only
  RunNode* tail_ = nullptr;
  SpinMutex remote_mu_;
  RunNode* remote_head_ = nullptr;  // guarded by remote_mu_
  RunNode* remote_tail_ = nullptr;
  std::atomic<bool> remote_pending_{false};  // remote_head_ != nullptr, readable without the lock
  std::atomic<bool> scheduled_{false};
  bool in_batch_ = false;                             // owner thread only
  List<ContextWaiter, CtxWaitTag> deferred_;  // owner thread only: ParkOps, see defer_registration
};

}  // namespace spindle::detail
