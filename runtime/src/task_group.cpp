#include "spindle/task_group.hpp"

#include <spdlog/spdlog.h>

#include <mutex>

namespace spindle {
namespace detail {

GroupState::GroupState(WithCancel<CancelCauseFunc> derived, std::size_t limit_,
                       std::string name_, std::source_location created_at_)
    : ctx(std::move(derived.ctx)),
      cancel(std::move(derived.cancel)),
      limit(limit_),
      name(std::move(name_)),
      created_at(created_at_) {}

bool GroupState::try_acquire() noexcept {
  std::lock_guard lock(mu_);
  if (limit != 0 && running_ >= limit) return false;
  ++running_;
  return true;
}

void GroupState::enqueue_for_slot(ParkOp& op) noexcept {
  {
    std::lock_guard lock(mu_);
    if (limit != 0 && running_ >= limit) {
      op.owner = this;
      op.dequeue = &dequeue;
      slot_waiters_.push_back(&op);
      return;
    }
    ++running_;
  }
  if (op.try_claim()) op.complete();
}

void GroupState::dequeue(ParkOp* op) noexcept {
  auto* self = static_cast<GroupState*>(op->owner);
  std::lock_guard lock(self->mu_);
  if (static_cast<Hook<QueueTag>*>(op)->linked()) List<ParkOp, QueueTag>::erase(op);
}

void GroupState::child_ended(std::exception_ptr error) noexcept {
  bool first = false;
  {
    std::lock_guard lock(mu_);
    if (error && !first_error_) {
      first_error_ = error;
      first = true;
    }
    --running_;
    // Hand the freed slot straight to a waiting spawner, skipping cancelled ones.
    while (ParkOp* op = slot_waiters_.pop_front()) {
      if (op->try_claim()) {
        ++running_;
        op->complete();
        break;
      }
    }
  }
  if (first) cancel(error);
  children.done();
}

std::exception_ptr GroupState::first_error() const {
  std::lock_guard lock(mu_);
  return first_error_;
}

Task<void> acquire_group_slot(Ref<GroupState> group) {
  ParkOp op;
  co_await op.suspend(group->ctx.canceller(), group->created_at,
                      [g = group.get()](ParkOp& o) noexcept { g->enqueue_for_slot(o); });
  if (op.result()) throw ContextError(op.result());
}

}  // namespace detail

TaskGroup::TaskGroup(const Context& parent, std::size_t limit, std::string name,
                     std::source_location where)
    : group_(new detail::GroupState(with_cancel_cause(parent), limit, std::move(name), where),
             detail::adopt_ref) {}

TaskGroup::~TaskGroup() {
  const auto left = group_->children.count();
  if (left == 0) return;
  group_->cancel(nullptr);
  if (!waited_)
    spdlog::error("task group \"{}\" ({}:{}) left its scope with {} child(ren) running: "
                  "cancelled them; co_await wait() first",
                  group_->name, group_->created_at.file_name(), group_->created_at.line(), left);
}

Task<void> TaskGroup::wait() {
  auto group = group_;
  co_await group->children.wait(background());
  waited_ = true;
  group->cancel(nullptr);
  if (auto e = group->first_error()) std::rethrow_exception(e);
}

}  // namespace spindle
