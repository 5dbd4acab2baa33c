#include "spindle/yield.hpp"

#include <stdexcept>

namespace spindle::detail {

const RunNode::Ops YieldAwait::ops{&YieldAwait::run, &YieldAwait::abandon};

FiberThread* YieldAwait::operator()(FrameBase* frame) {
  fiber_ = current_fiber();
  if (!fiber_) throw std::logic_error("spindle::yield must run in a fiber started by go()");
  thread_.emplace(frame->detach_thread());
  fiber_->run_queue->push(this);
  return nullptr;
}

void YieldAwait::run(RunNode* node) {
  auto* self = static_cast<YieldAwait*>(node);
  ParkedThread thread = std::move(*self->thread_);
  self->thread_.reset();
  CurrentFiber as(self->fiber_);
  thread.resume();  // `self` lives in the frame being resumed: not touched after this
}

void YieldAwait::abandon(RunNode* node) noexcept {
  // Shutdown with the workers stopped: dropping the thread destroys the fiber's frames.
  auto* self = static_cast<YieldAwait*>(node);
  std::optional<ParkedThread> thread = std::move(self->thread_);
  self->thread_.reset();
}

}  // namespace spindle::detail
