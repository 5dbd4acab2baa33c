#include "spindle/go.hpp"

#include "spindle/detail/registry.hpp"
#include "spindle/detail/scheduler_core.hpp"
#include "spindle/detail/worker.hpp"

namespace spindle::detail {

SpawnTarget resolve_spawn(const Spawn& spawn) {
  Worker* here = current_worker();
  std::shared_ptr<SchedulerCore> owner;  // keeps a scheduler found through the context alive
  SchedulerCore* core = here ? &here->core : nullptr;
  if (!core && spawn.ctx.node()) {
    owner = spawn.ctx.node()->scheduler();
    core = owner.get();
  }
  if (!core)
    throw std::logic_error(
        "spindle::go: no scheduler to run the fiber: spawn from a fiber, or with a context "
        "derived from Scheduler::context()");
  if (!core->accepting_fibers())
    throw std::logic_error("spindle::go: the scheduler has shut down");
  Worker& w = spawn.worker >= 0
                  ? core->worker(static_cast<unsigned>(spawn.worker) % core->size())
                  : (spawn.placement == Placement::inherit && here && &here->core == core)
                        ? *here
                        : core->next_worker();
  FiberRecord* parent = current_fiber();
  return {&w.run_queue, parent ? parent->id : 0};
}

void launch(FiberEntry entry, FiberRecord* rec) {
  register_fiber(rec);
  // Queued, not run inline: like a new goroutine, the fiber starts when its worker gets to it.
  rec->start(std::move(entry));
}

FiberExit::~FiberExit() {
  unregister_fiber(rec_);
  // Destroyed before it finished: shutdown tore a leaked fiber down.
  if (!finished_ && !error_) error_ = std::make_exception_ptr(ContextError(Errc::canceled));
  rec_->finish(std::move(error_));
}

}  // namespace spindle::detail
