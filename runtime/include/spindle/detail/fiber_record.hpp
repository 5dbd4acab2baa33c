// The registry entry of one fiber: identity for the leak detector and the live view, and the
// completion state that join() waits on.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <optional>
#include <source_location>
#include <string>

#include "spindle/detail/context_node.hpp"
#include "spindle/detail/intrusive_list.hpp"
#include "spindle/detail/ref_counted.hpp"
#include "spindle/detail/spin_mutex.hpp"

namespace spindle::detail {

class ParkOp;
class SchedulerCore;

static_assert(sizeof(std::source_location) == sizeof(void*),
              "spindle stores source locations in atomics; needs the one-pointer layout");

struct RegistryTag {};

/// One fiber. Lives while the fiber runs (its body holds a reference) and while handles exist.
class FiberRecord : public RefCounted, public Hook<RegistryTag> {
 public:
  FiberRecord(std::string name, std::source_location spawned_at, std::uint64_t parent_id,
              Ref<CancelNode> context, SchedulerCore* scheduler, unsigned worker);

  const std::uint64_t id;
  const std::uint64_t parent_id;  // 0: spawned outside any fiber
  const std::string name;
  const std::source_location spawned_at;
  const TimePoint started;
  SchedulerCore* const scheduler;
  const unsigned worker;

  /// Where the fiber is suspended in a spindle await; line() == 0 while it is not.
  std::atomic<std::source_location> await_site{std::source_location{}};
  /// The spindle wait it is parked in, so shutdown can destroy a leaked fiber; written only
  /// by the fiber's own thread, read by shutdown after the workers stopped.
  ParkOp* parked = nullptr;

  /// The fiber's own context node (cancel() targets it). Released when the fiber ends.
  Ref<CancelNode> context() const;
  /// Cancels the fiber's context; returns false if it already ended or was cancelled.
  bool cancel() noexcept;

  bool done() const noexcept { return flags_.load(std::memory_order_acquire) & done_flag; }
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
  static constexpr std::uint32_t done_flag = 1, detached_flag = 2, taken_flag = 4;
  static void remove_joiner(ParkOp* op) noexcept;
  void log_unobserved_error() const noexcept;

  mutable SpinMutex mu_;
  Ref<CancelNode> context_;  // guarded by mu_
  ParkOp* joiner_ = nullptr;  // guarded by mu_
  std::exception_ptr error_;
  mutable std::atomic<std::uint32_t> flags_{0};
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

}  // namespace spindle::detail
