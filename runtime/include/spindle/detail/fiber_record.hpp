// The registry entry of one fiber: identity for the leak detector and the live view, and the
// completion state that join() waits on.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <optional>
#include <source_location>
#include <string>
#include <string_view>

#include "spindle/detail/block_cache.hpp"
#include "spindle/detail/context_node.hpp"
#include "spindle/detail/intrusive_list.hpp"
#include "spindle/detail/run_queue.hpp"
#include "spindle/detail/spin_mutex.hpp"

namespace spindle::detail {

class ParkOp;
class SchedulerCore;

static_assert(sizeof(std::source_location) == sizeof(void*),
              "spindle stores source locations in atomics; needs the one-pointer layout");

struct RegistryTag {};

/// A fiber's name: up to 31 bytes kept inline — a connection fiber's "echo 127.0.0.1:51234"
/// costs no allocation — longer names on the heap. 32 bytes, like std::string.
class FiberName {
 public:
  explicit FiberName(std::string_view name);
  ~FiberName();
  FiberName(const FiberName&) = delete;
  FiberName& operator=(const FiberName&) = delete;
  std::string_view view() const noexcept;
  operator std::string_view() const noexcept { return view(); }

 private:
  static constexpr std::uint8_t on_heap = 0xFF;
  struct Heap {
    char* data;
    std::size_t size;
  };
  union {
    char inline_[32];  // [31] holds the length, or on_heap
    Heap heap_;
  };
};

/// The bottom coroutine of a fiber (go()'s fiber_main): queued by go(), started by the
/// fiber's first run, and freeing its own frame when it ends. Until it starts, this handle
/// owns the frame.
class FiberEntry {
 public:
  struct promise_type : CachedAllocation {  // the frame comes from the block cache
    FiberEntry get_return_object() noexcept {
      return FiberEntry(std::coroutine_handle<promise_type>::from_promise(*this));
    }
    std::suspend_always initial_suspend() const noexcept { return {}; }
    std::suspend_never final_suspend() const noexcept { return {}; }
    void return_void() const noexcept {}
    void unhandled_exception() const noexcept { std::terminate(); }  // fiber_main catches all
  };
  FiberEntry(FiberEntry&& o) noexcept : frame_(std::exchange(o.frame_, {})) {}
  FiberEntry& operator=(FiberEntry&&) = delete;
  ~FiberEntry() {
    if (frame_) frame_.destroy();
  }
  /// Gives up ownership of the frame.
  std::coroutine_handle<> release() noexcept { return std::exchange(frame_, {}); }

 private:
  explicit FiberEntry(std::coroutine_handle<promise_type> frame) noexcept : frame_(frame) {}
  std::coroutine_handle<promise_type> frame_;
};

/// One fiber, which is also its own context node (one allocation for both): cancelling the
/// node is cancelling the fiber. Lives while the fiber runs (its body holds a reference) and
/// while handles or copies of its context exist.
class FiberRecord : public CancelNode, public Hook<RegistryTag>, public RunNode {
 public:
  /// A fiber whose context is a child of `parent`; call attach() before sharing it.
  FiberRecord(Ref<ContextNode> parent, std::string_view name, std::source_location spawned_at,
              std::uint64_t parent_id, RunQueue* run_queue);

  const std::uint64_t id;
  const std::uint64_t parent_id;  // 0: spawned outside any fiber
  const FiberName name;
  const std::source_location spawned_at;
  const TimePoint started;
  RunQueue* const run_queue;  ///< of the worker it runs on
  SchedulerCore* scheduler() const noexcept { return run_queue->scheduler; }
  unsigned worker() const noexcept { return run_queue->worker; }

  /// Queues the fiber's first run on its worker.
  void start(FiberEntry entry) noexcept;
  /// Shutdown only, with the workers stopped: queues the destruction of the fiber's frames on
  /// its worker's run queue, for the scheduler's teardown rounds. Called by the owner of a
  /// suspended fiber (a pending I/O completion) that is destroyed without running; while the
  /// scheduler runs it does nothing (such an owner was never handed the fiber).
  void tear_down_later() noexcept;
  /// Destroys the fiber's frames (its bottom coroutine and every one it awaits). Shutdown
  /// only; the caller owns the suspended fiber and touches nothing in its frames afterwards.
  void destroy_frames() noexcept { root_.destroy(); }

  /// Where the fiber is suspended in a spindle await; line() == 0 while it is not.
  std::atomic<std::source_location> await_site{std::source_location{}};
  /// The spindle wait it is parked in, so shutdown can destroy a leaked fiber; written only
  /// by the fiber's own thread, read by shutdown after the workers stopped.
  ParkOp* parked = nullptr;

  /// True once the fiber's function has returned or thrown (or the fiber was destroyed).
  bool finished() const noexcept { return flags_.load(std::memory_order_acquire) & done_flag; }
  /// Blocks the calling (non-worker) thread until the fiber has ended.
  void wait_blocking() const noexcept;

  /// Called by the fiber body when it ends: stores the outcome and wakes the joiner.
  void finish(std::exception_ptr error) noexcept;
  /// The handle was dropped without join: an exception nobody will see gets logged.
  void detach() noexcept;
  /// Rethrows the fiber's exception, if any; marks the result taken.
  void take_error();
  /// Parks `op` until the fiber ends (or completes it at once if it has).
  void add_joiner(ParkOp& op) noexcept;

 protected:
  ~FiberRecord() override;

 private:
  static constexpr std::uint32_t done_flag = 1, detached_flag = 2, taken_flag = 4,
                                 blocked_flag = 8;  // a thread sleeps in wait_blocking
  static void remove_joiner(ParkOp* op) noexcept;
  static void run_start(RunNode* node);
  static void abandon_start(RunNode* node) noexcept;
  static void tear_down(RunNode* node) noexcept;
  static const Ops start_ops, tear_down_ops;
  void log_unobserved_error() const noexcept;

  std::coroutine_handle<> root_;  // the bottom coroutine's frame
  ParkOp* joiner_ = nullptr;  // guarded by join_mu_
  std::exception_ptr error_;
  mutable std::atomic<std::uint32_t> flags_{0};
  mutable SpinMutex join_mu_;
};

/// A fiber record with room for the fiber's result.
template <class T>
class FiberState final : public FiberRecord {
 public:
  using FiberRecord::FiberRecord;
  std::optional<T> value;
};

template <>
class FiberState<void> final : public FiberRecord {
 public:
  using FiberRecord::FiberRecord;
};

/// The fiber whose code the calling thread is running, or nullptr (set by FiberExecutor).
FiberRecord* current_fiber() noexcept;
/// Swaps the calling thread's current fiber; returns the previous one.
FiberRecord* exchange_current_fiber(FiberRecord* f) noexcept;

/// A one-shot callback the calling worker thread runs when its current fiber next suspends
/// in a spindle await, just before it does. It lets a fiber put off work that matters only
/// if it waits: the HTTP service starts watching for a departed client this way, which
/// spares a system call for every handler that answers without waiting. One per thread:
/// until it runs or is cleared, no other fiber runs on the thread (fibers switch only where
/// they suspend), except after a suspension outside spindle's awaits, which does not run it.
struct ParkHook {
  void (*run)(void* arg) noexcept = nullptr;
  void* arg = nullptr;
};
/// Sets the calling thread's hook, replacing any pending one.
void set_park_hook(ParkHook hook) noexcept;
/// Removes the calling thread's hook if it is still pending with `arg`.
void clear_park_hook(void* arg) noexcept;
/// Called by spindle's awaits as `f` is about to suspend at `where`: records the await site
/// (for the live view and the leak report) and runs the pending hook, if any.
void note_park(FiberRecord* f, std::source_location where) noexcept;

/// Makes `f` the calling thread's current fiber for its lifetime.
class CurrentFiber {
 public:
  explicit CurrentFiber(FiberRecord* f) noexcept : previous_(exchange_current_fiber(f)) {}
  ~CurrentFiber() { exchange_current_fiber(previous_); }
  CurrentFiber(const CurrentFiber&) = delete;
  CurrentFiber& operator=(const CurrentFiber&) = delete;

 private:
  FiberRecord* previous_;
};

}  // namespace spindle::detail
