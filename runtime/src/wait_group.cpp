#include "spindle/wait_group.hpp"

#include <spdlog/spdlog.h>

#include <mutex>
#include <stdexcept>
#include <string>

namespace spindle {

void WaitGroup::add(std::int64_t n) {
  const std::int64_t next = count_.fetch_add(n, std::memory_order_seq_cst) + n;
  if (next < 0) {
    count_.fetch_sub(n, std::memory_order_seq_cst);
    throw std::logic_error("spindle::WaitGroup: counter below zero (done() called " +
                           std::to_string(-next) + " more time(s) than add())");
  }
  // Pairs with enqueue(): it counts itself in waiting_ before reading count_, so one of the
  // two sides sees the other.
  if (next == 0 && n != 0 && waiting_.load(std::memory_order_seq_cst) != 0) wake_all();
}

WaitGroup::DoneGuard::~DoneGuard() {
  if (!wg_) return;
  try {
    wg_->done();
  } catch (const std::logic_error& e) {
    spdlog::error("{}", e.what());
  }
}

void WaitGroup::wake_all() noexcept {
  std::lock_guard lock(mu_);
  while (auto* op = waiters_.pop_front()) {
    waiting_.fetch_sub(1, std::memory_order_relaxed);
    if (op->try_claim()) op->complete();
  }
}

void WaitGroup::enqueue(detail::ParkOp& op) noexcept {
  {
    std::lock_guard lock(mu_);
    waiting_.fetch_add(1, std::memory_order_seq_cst);
    // Either add() sees waiting_ and wakes the list, or the zero is seen here.
    if (count_.load(std::memory_order_seq_cst) != 0) {
      op.owner = this;
      op.dequeue = &dequeue;
      waiters_.push_back(&op);
      return;
    }
    waiting_.fetch_sub(1, std::memory_order_relaxed);
  }
  if (op.try_claim()) op.complete();
}

void WaitGroup::dequeue(detail::ParkOp* op) noexcept {
  auto* self = static_cast<WaitGroup*>(op->owner);
  std::lock_guard lock(self->mu_);
  if (static_cast<detail::Hook<detail::QueueTag>*>(op)->linked()) {
    detail::List<detail::ParkOp, detail::QueueTag>::erase(op);
    self->waiting_.fetch_sub(1, std::memory_order_relaxed);
  }
}

}  // namespace spindle
