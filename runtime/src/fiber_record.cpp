#include "spindle/detail/fiber_record.hpp"

#include <spdlog/spdlog.h>

#include <mutex>
#include <utility>

#include "spindle/detail/scheduler_core.hpp"
#include "spindle/detail/park.hpp"
#include "spindle/detail/registry.hpp"
#include "spindle/error.hpp"

namespace spindle::detail {
namespace {

thread_local FiberRecord* t_current_fiber = nullptr;
thread_local ParkHook t_park_hook;

}  // namespace

void set_park_hook(ParkHook hook) noexcept { t_park_hook = hook; }

void clear_park_hook(void* arg) noexcept {
  if (t_park_hook.arg == arg) t_park_hook = {};
}

void note_park(FiberRecord* f, std::source_location where) noexcept {
  f->await_site.store(where, std::memory_order_relaxed);
  if (t_park_hook.run) {
    const ParkHook hook = std::exchange(t_park_hook, {});
    hook.run(hook.arg);
  }
}

FiberName::FiberName(std::string_view name) {
  if (name.size() < sizeof inline_) {
    name.copy(inline_, name.size());
    inline_[31] = static_cast<char>(name.size());
  } else {
    heap_ = {new char[name.size()], name.size()};
    name.copy(heap_.data, name.size());
    inline_[31] = static_cast<char>(on_heap);
  }
}

FiberName::~FiberName() {
  if (static_cast<std::uint8_t>(inline_[31]) == on_heap) delete[] heap_.data;
}

std::string_view FiberName::view() const noexcept {
  const auto tag = static_cast<std::uint8_t>(inline_[31]);
  return tag == on_heap ? std::string_view(heap_.data, heap_.size) : std::string_view(inline_, tag);
}

FiberRecord* current_fiber() noexcept { return t_current_fiber; }

FiberRecord* exchange_current_fiber(FiberRecord* f) noexcept {
  return std::exchange(t_current_fiber, f);
}

FiberRecord::FiberRecord(Ref<ContextNode> parent, std::string_view name_,
                         std::source_location spawned_at_, std::uint64_t parent_id_,
                         RunQueue* run_queue_)
    : CancelNode(parent, parent ? parent->deadline() : no_deadline),
      RunNode(&start_ops),
      id(next_fiber_id()),
      parent_id(parent_id_),
      name(name_),
      spawned_at(spawned_at_),
      started(Clock::now()),
      run_queue(run_queue_) {}

const RunNode::Ops FiberRecord::start_ops{&FiberRecord::run_start, &FiberRecord::abandon_start};
const RunNode::Ops FiberRecord::tear_down_ops{&FiberRecord::tear_down, &FiberRecord::tear_down};

void FiberRecord::start(FiberEntry entry) noexcept {
  root_ = entry.release();
  run_queue->push(this);
}

void FiberRecord::run_start(RunNode* node) {
  auto* self = static_cast<FiberRecord*>(node);
  CurrentFiber as(self);
  self->root_.resume();
}

void FiberRecord::abandon_start(RunNode* node) noexcept {
  // Destroying the never-started bottom coroutine destroys its frame, which unregisters it.
  static_cast<FiberRecord*>(node)->destroy_frames();
}

void FiberRecord::tear_down_later() noexcept {
  if (scheduler()->accepting_fibers()) return;
  ops = &tear_down_ops;
  run_queue->push(this);
}

void FiberRecord::tear_down(RunNode* node) noexcept { static_cast<FiberRecord*>(node)->destroy_frames(); }

FiberRecord::~FiberRecord() = default;

void FiberRecord::wait_blocking() const noexcept {
  // Announce the sleeper, so finish() issues the futex wake only when someone needs it.
  for (auto f = flags_.fetch_or(blocked_flag, std::memory_order_acq_rel) | blocked_flag;
       !(f & done_flag); f = flags_.load(std::memory_order_acquire))
    flags_.wait(f, std::memory_order_acquire);
}

void FiberRecord::finish(std::exception_ptr error) noexcept {
  error_ = std::move(error);
  ParkOp* joiner;
  std::uint32_t prev;
  {
    // Under the lock, so add_joiner either sees done or leaves a joiner taken here.
    std::lock_guard lock(join_mu_);
    joiner = std::exchange(joiner_, nullptr);
    prev = flags_.fetch_or(done_flag, std::memory_order_acq_rel);
  }
  if (prev & blocked_flag) flags_.notify_all();
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
    std::lock_guard lock(join_mu_);
    if (!finished()) {
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
  std::lock_guard lock(self->join_mu_);
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
