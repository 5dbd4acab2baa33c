#include "spindle/detail/run_queue.hpp"

#include <asio/post.hpp>
#include <mutex>

#include "spindle/detail/park.hpp"
#include "spindle/detail/worker.hpp"

namespace spindle::detail {

void RunQueue::push(RunNode* node) noexcept {
  node->next_run = nullptr;
  if (current_io() == &io_) {
    if (tail_) tail_->next_run = node;
    else head_ = node;
    tail_ = node;
  } else {
    std::lock_guard lock(remote_mu_);
    if (remote_tail_) remote_tail_->next_run = node;
    else remote_head_ = node;
    remote_tail_ = node;
    remote_pending_.store(true, std::memory_order_release);
  }
  schedule();
}

void RunQueue::schedule() noexcept {
  // The plain load first: while a batch runs the flag is set, and a fiber waking another on
  // its own thread then pays no atomic read-modify-write.
  if (scheduled_.load(std::memory_order_acquire)) return;
  if (!scheduled_.exchange(true, std::memory_order_acq_rel))
    asio::post(io_, [this] { drain(); });
}

RunNode* RunQueue::pop_local() noexcept {
  RunNode* n = head_;
  if (n) {
    head_ = n->next_run;
    if (!head_) tail_ = nullptr;
  }
  return n;
}

bool RunQueue::take_remote() noexcept {
  if (!remote_pending_.load(std::memory_order_acquire)) return false;
  std::lock_guard lock(remote_mu_);
  remote_pending_.store(false, std::memory_order_relaxed);
  if (!remote_head_) return false;
  if (tail_) tail_->next_run = remote_head_;
  else head_ = remote_head_;
  tail_ = remote_tail_;
  remote_head_ = remote_tail_ = nullptr;
  return true;
}

bool RunQueue::spin_for_remote() noexcept {
  const auto until = std::chrono::steady_clock::now() + spin;
  for (int i = 1;; ++i) {
    if (remote_pending_.load(std::memory_order_acquire) && take_remote()) return true;
    cpu_relax();
    if (i % 64 == 0 && std::chrono::steady_clock::now() >= until) return false;
  }
}

bool RunQueue::defer_registration(ParkOp* op) noexcept {
  if (!in_batch_) return false;
  deferred_.push_back(op);
  return true;
}

void RunQueue::drop_deferred(ParkOp* op) noexcept { List<ContextWaiter, CtxWaitTag>::erase(op); }

void RunQueue::register_deferred() noexcept {
  while (ContextWaiter* w = deferred_.pop_front()) static_cast<ParkOp*>(w)->register_deferred();
}

void RunQueue::drain() {
  in_batch_ = true;
  bool cross_thread = false;  // fibers woken from other threads ran in this batch
  std::chrono::steady_clock::time_point until{};
  for (int i = 1;; ++i) {
    if (i % clock_every == 0) {
      const auto now = std::chrono::steady_clock::now();
      if (until == std::chrono::steady_clock::time_point{}) until = now + batch_budget;
      else if (now >= until) break;
    }
    RunNode* n = pop_local();
    if (!n && take_remote()) {
      cross_thread = true;
      n = pop_local();
    }
    // A cross-thread exchange (a ping-pong, a fan-out) usually answers within microseconds.
    // Parked fibers register with their contexts first: the spin must not delay a cancel.
    if (!n && cross_thread && may_spin_) {
      register_deferred();
      if (spin_for_remote()) n = pop_local();
    }
    if (!n) break;
    n->ops->run(n);  // never throws: a fiber's exceptions end in its own frame
  }
  in_batch_ = false;
  register_deferred();
  // Clear the flag before looking again: a push that saw it set relies on this check.
  scheduled_.store(false, std::memory_order_seq_cst);
  bool more = head_ != nullptr;
  if (!more) {
    std::lock_guard lock(remote_mu_);
    more = remote_head_ != nullptr;
  }
  if (more) schedule();
}

std::size_t RunQueue::abandon_all() noexcept {
  std::size_t n = 0;
  // Abandoning a fiber destroys its frames, which may wake others (onto the remote list).
  for (;;) {
    take_remote();
    RunNode* node = pop_local();
    if (!node) return n;
    node->ops->abandon(node);
    ++n;
  }
}

}  // namespace spindle::detail
