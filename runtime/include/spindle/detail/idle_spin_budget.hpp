// How long an idle worker may poll before it sleeps (SchedulerOptions::idle_spin): a budget
// earned by working.
#pragma once

#include <algorithm>
#include <chrono>

namespace spindle::detail {

/// One worker's spin allowance. The spin exists for a busy worker: sleeping between its
/// requests would make each client pay for a wake-up, which slows the client and so the
/// server. It costs CPU in every gap it does not bridge. So spinning is paid for out of work:
/// each unit of time the worker spends working earns a quarter of it in spin time (held up to
/// four spins' worth), and each spin spends what it polled. A busy worker's short gaps are always covered; a mostly idle
/// worker, whose gaps a spin rarely bridges, spends at most a quarter of its working time
/// polling instead of the full spin per gap. Not thread-safe: each worker owns one.
class IdleSpinBudget {
 public:
  using Clock = std::chrono::steady_clock;
  using Duration = Clock::duration;
  /// Work earns 1/earned_per of its time in spin time.
  static constexpr int earned_per = 4;
  /// The most credit held, in full spins: what a burst of work leaves for the gaps after it.
  static constexpr int spins_held = 4;

  /// `limit`: the longest spin (SchedulerOptions::idle_spin); `now`: when the worker starts.
  IdleSpinBudget(Duration limit, Clock::time_point now) noexcept
      : limit_(limit), credit_(limit), busy_since_(now) {}

  /// The worker ran out of work at `now`: credits the work since the last gap and returns how
  /// long to poll before sleeping (zero: sleep at once).
  Duration gap_started(Clock::time_point now) noexcept {
    credit_ = std::min(credit_ + (now - busy_since_) / earned_per, limit_ * spins_held);
    return std::min(limit_, credit_);
  }
  /// The gap ended at `now` (work was found) after polling for `spun`.
  void gap_ended(Clock::time_point now, Duration spun) noexcept {
    credit_ -= std::min(spun, credit_);
    busy_since_ = now;
  }
  /// Spin time in hand.
  Duration credit() const noexcept { return credit_; }

 private:
  const Duration limit_;
  Duration credit_;
  Clock::time_point busy_since_;
};

}  // namespace spindle::detail
