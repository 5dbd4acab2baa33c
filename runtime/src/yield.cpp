#include "spindle/yield.hpp"

#include <stdexcept>

namespace spindle::detail {

const RunNode::Ops YieldAwait::ops{&YieldAwait::run, &YieldAwait::abandon};

bool YieldAwait::await_ready() {
  fiber_ = current_fiber();
  if (!fiber_) throw std::logic_error("spindle::yield must run in a fiber started by go()");
  return false;
}

void YieldAwait::await_suspend(std::coroutine_handle<> waiter) noexcept {
  waiter_ = waiter;
  fiber_->run_queue->push(this);
}

void YieldAwait::run(RunNode* node) {
  auto* self = static_cast<YieldAwait*>(node);
  CurrentFiber as(self->fiber_);
  self->waiter_.resume();  // `self` lives in the frame being resumed: not touched after this
}

void YieldAwait::abandon(RunNode* node) noexcept {
  // Shutdown with the workers stopped: the fiber will not run again.
  static_cast<YieldAwait*>(node)->fiber_->destroy_frames();
}

}  // namespace spindle::detail
