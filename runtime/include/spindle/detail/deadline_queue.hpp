// Per-thread deadline bookkeeping for contexts made with with_timeout / with_deadline.
#pragma once

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <memory>
#include <optional>
#include <vector>

#include "spindle/detail/context_node.hpp"
#include "spindle/detail/spin_mutex.hpp"

namespace spindle::detail {

/// A min-heap of deadline nodes driven by one Asio timer on one io_context. A request's
/// deadline is a heap insert and erase on its own thread — no timer object, no syscall and no
/// cross-thread wake-up per context; the single timer only re-arms when an earlier deadline
/// arrives. A deadline not before the armed timer waits in an unsorted list until the timer
/// fires (an insert and a removal in O(1), not two walks through a heap of thousands: request
/// and idle deadlines are mostly cancelled long before). Nodes are held by raw pointer and
/// leave the queue when cancelled or destroyed.
class DeadlineQueue : public std::enable_shared_from_this<DeadlineQueue> {
 public:
  explicit DeadlineQueue(asio::io_context& io);
  ~DeadlineQueue();

  /// Adds `node` (its deadline() is the key). Safe from any thread.
  void add(DeadlineNode* node);
  /// Removes `node` if it is queued. Safe from any thread.
  void remove(DeadlineNode* node) noexcept;
  /// Stops the timer for good; called on the io_context's thread or after it stopped running.
  void close() noexcept;

  /// The queue of the calling thread: its scheduler worker's, or else that of a process-wide
  /// timer thread (for contexts made outside any scheduler).
  static std::shared_ptr<DeadlineQueue> for_current_thread();

 private:
  void rearm();  // on the io thread
  void on_timer(std::error_code ec);
  void sift_up(std::size_t i) noexcept;
  void sift_down(std::size_t i) noexcept;
  void swap_entries(std::size_t a, std::size_t b) noexcept;
  void erase_at(std::size_t i) noexcept;
  void erase_later(std::size_t i) noexcept;

  SpinMutex mu_;
  std::vector<DeadlineNode*> heap_;   // guarded by mu_
  std::vector<DeadlineNode*> later_;  // guarded by mu_: deadlines >= armed_for_, unsorted
  TimePoint armed_for_ = no_deadline;  // guarded by mu_
  bool rearm_posted_ = false;          // guarded by mu_
  bool closed_ = false;                // guarded by mu_
  asio::io_context& io_;
  std::optional<asio::steady_timer> timer_;  // io thread only
};

}  // namespace spindle::detail
