#include "idle_deadline.hpp"

namespace spindle::http {

const Context& IdleDeadline::start(const Context& scope, TimePoint until) {
  until_ = until;
  // The node serves while it is live, hangs from this scope, and expires no later than the
  // new deadline (expiring earlier is what extended() is for).
  const auto& node = ctx_.node();
  if (!node || ctx_.done() || node->parent().get() != scope.node().get() || node->deadline() > until_)
    ctx_ = with_deadline(scope, until_).ctx;
  return ctx_;
}

bool IdleDeadline::extended() {
  const auto& node = ctx_.node();
  // Ended by the scope (its own deadline, or cancelled meanwhile), not by this node's.
  if (!node || Context(node->parent()).done()) return false;
  if (Clock::now() >= until_) return false;
  ctx_ = with_deadline(Context(node->parent()), until_).ctx;
  return true;
}

}  // namespace spindle::http
