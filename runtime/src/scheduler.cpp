#include "spindle/scheduler.hpp"

#include "spindle/detail/scheduler_core.hpp"

namespace spindle {

Scheduler::Scheduler(SchedulerOptions options)
    : core_(detail::SchedulerCore::make(options.threads, options.idle_spin)) {}

Scheduler::~Scheduler() { core_->shutdown(std::chrono::nanoseconds(0)); }

Context Scheduler::context() const noexcept {
  return Context(detail::Ref<detail::ContextNode>(core_->root()));
}

unsigned Scheduler::thread_count() const noexcept { return core_->size(); }

asio::io_context& Scheduler::io_context(unsigned i) noexcept { return core_->worker(i).io; }

void Scheduler::start() { core_->start(); }

std::vector<FiberInfo> Scheduler::shutdown(std::chrono::nanoseconds grace) {
  return core_->shutdown(grace);
}

}  // namespace spindle
