#include "spindle/wait_group.hpp"

#include <spdlog/spdlog.h>

#include <mutex>
#include <stdexcept>
#include <string>

namespace spindle {

void WaitGroup::add(std::int64_t n) {
  auto current = count_.load(std::memory_order_relaxed);
  std::int64_t next;
  do {
    next = current + n;
    if (next < 0)
      throw std::logic_error("spindle::WaitGroup: counter below zero (done() called " +
                             std::to_string(-next) + " more time(s) than add())");
  } while (!count_.compare_exchange_weak(current, next, std::memory_order_acq_rel));
  if (next == 0 && n != 0) wake_all();
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
  while (auto* op = waiters_.pop_front())
    if (op->try_claim()) op->complete();
}

void WaitGroup::enqueue(detail::ParkOp& op) noexcept {
  {
    std::lock_guard lock(mu_);
    // Checked under the lock that wake_all takes after the count reaches zero: either the
    // zero is seen here, or the op is in the list when wake_all looks.
    if (count_.load(std::memory_order_acquire) != 0) {
      op.owner = this;
      op.dequeue = &dequeue;
      waiters_.push_back(&op);
      return;
    }
  }
  if (op.try_claim()) op.complete();
}

void WaitGroup::dequeue(detail::ParkOp* op) noexcept {
  auto* self = static_cast<WaitGroup*>(op->owner);
  std::lock_guard lock(self->mu_);
  if (static_cast<detail::Hook<detail::QueueTag>*>(op)->linked())
    detail::List<detail::ParkOp, detail::QueueTag>::erase(op);
}

Task<std::error_code> WaitGroup::wait(Context ctx, std::source_location where) {
  if (count() == 0) co_return std::error_code{};
  detail::ParkOp op;
  co_await op.suspend(ctx.canceller(), where, [this](detail::ParkOp& o) noexcept { enqueue(o); });
  co_return op.result();
}

}  // namespace spindle
