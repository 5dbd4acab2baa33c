#include "spindle/detail/fiber_record.hpp"

#include <spdlog/spdlog.h>

#include <mutex>

#include "spindle/detail/park.hpp"
#include "spindle/detail/registry.hpp"
#include "spindle/error.hpp"

namespace spindle::detail {
namespace {

thread_local FiberRecord* t_current_fiber = nullptr;

}  // namespace

FiberRecord* current_fiber() noexcept { return t_current_fiber; }

FiberRecord* exchange_current_fiber(FiberRecord* f) noexcept {
  return std::exchange(t_current_fiber, f);
}

FiberRecord::FiberRecord(std::string name_, std::source_location spawned_at_,
                         std::uint64_t parent_id_, Ref<CancelNode> context,
                         SchedulerCore* scheduler_, unsigned worker_)
    : id(next_fiber_id()),
      parent_id(parent_id_),
      name(std::move(name_)),
      spawned_at(spawned_at_),
      started(Clock::now()),
      scheduler(scheduler_),
      worker(worker_),
      context_(std::move(context)) {}

FiberRecord::~FiberRecord() = default;

Ref<CancelNode> FiberRecord::context() const {
  std::lock_guard lock(mu_);
  return context_;
}

bool FiberRecord::cancel() noexcept {
  auto ctx = context();
  return ctx && ctx->cancel(Errc::canceled);
}

void FiberRecord::wait_blocking() const noexcept {
  for (auto f = flags_.load(std::memory_order_acquire); !(f & done_flag);
       f = flags_.load(std::memory_order_acquire))
    flags_.wait(f, std::memory_order_acquire);
}

void FiberRecord::finish(std::exception_ptr error) noexcept {
  error_ = std::move(error);
  ParkOp* joiner;
  Ref<CancelNode> ctx;
  std::uint32_t prev;
  {
    // Under the lock, so add_joiner either sees done or leaves a joiner taken here.
    std::lock_guard lock(mu_);
    joiner = std::exchange(joiner_, nullptr);
    ctx = std::move(context_);  // a finished fiber holds its context no longer
    prev = flags_.fetch_or(done_flag, std::memory_order_acq_rel);
  }
  flags_.notify_all();
  if (joiner && joiner->try_claim()) joiner->complete();
  if ((prev & detached_flag) && error_) log_unobserved_error();
}

void FiberRecord::detach() noexcept {
  const auto prev = flags_.fetch_or(detached_flag, std::memory_order_acq_rel);
  if ((prev & done_flag) && !(prev & taken_flag) && error_) log_unobserved_error();
}

void FiberRecord::take_error() {
  const auto prev = flags_.fetch_or(taken_flag, std::memory_order_acq_rel);
  if (prev & taken_flag) throw std::logic_error("spindle: fiber already joined");
  if (error_) std::rethrow_exception(error_);
}

void FiberRecord::add_joiner(ParkOp& op) noexcept {
  {
    std::lock_guard lock(mu_);
    if (!done()) {
      joiner_ = &op;
      op.owner = this;
      op.dequeue = &remove_joiner;
      return;
    }
  }
  if (op.try_claim()) op.complete();
}

void FiberRecord::remove_joiner(ParkOp* op) noexcept {
  auto* self = static_cast<FiberRecord*>(op->owner);
  std::lock_guard lock(self->mu_);
  if (self->joiner_ == op) self->joiner_ = nullptr;
}

void FiberRecord::log_unobserved_error() const noexcept {
  try {
    std::rethrow_exception(error_);
  } catch (const ContextError& e) {
    // Ending because its context ended is how a cancelled fiber is meant to stop.
    spdlog::debug("fiber {} \"{}\" ({}:{}) ended by its context: {}", id, name,
                  spawned_at.file_name(), spawned_at.line(), e.what());
  } catch (const std::exception& e) {
    spdlog::error("fiber {} \"{}\" spawned at {}:{} ended with an exception nobody joined: {}", id,
                  name, spawned_at.file_name(), spawned_at.line(), e.what());
  } catch (...) {
    spdlog::error("fiber {} \"{}\" spawned at {}:{} ended with a non-standard exception nobody "
                  "joined",
                  id, name, spawned_at.file_name(), spawned_at.line());
  }
}

}  // namespace spindle::detail
