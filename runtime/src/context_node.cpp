#include "spindle/detail/context_node.hpp"

#include <mutex>

#include "spindle/detail/deadline_queue.hpp"

namespace spindle::detail {

const void* ContextNode::find_value(const void* key) const noexcept {
  for (const ContextNode* n = this; n; n = n->parent_.get())
    if (const void* v = n->own_value(key)) return v;
  return nullptr;
}

std::shared_ptr<SchedulerCore> ContextNode::scheduler() const noexcept {
  const ContextNode* n = this;
  while (n->parent_) n = n->parent_.get();
  return n->own_scheduler();
}

CancelNode::CancelNode(Ref<ContextNode> parent, TimePoint deadline) noexcept
    : ContextNode(std::move(parent), nullptr, deadline) {
  set_canceller(this);
}

Ref<CancelNode> CancelNode::make(const Ref<ContextNode>& parent) {
  Ref<CancelNode> node(new CancelNode(parent, parent ? parent->deadline() : no_deadline), adopt_ref);
  node->attach();
  return node;
}

CancelNode::~CancelNode() { detach_from_parent(); }

void CancelNode::attach() noexcept {
  CancelNode* up = parent() ? parent()->canceller() : nullptr;
  if (!up) return;
  std::unique_lock lock(up->mu_);
  if (auto s = up->state_.load(std::memory_order_relaxed)) {
    // Born into a cancelled subtree: done from the start, like Go's propagateCancel.
    cause_ = up->cause_;
    lock.unlock();
    state_.store(s, std::memory_order_release);
    return;
  }
  up->children_.push_back(this);
}

void CancelNode::detach_from_parent() noexcept {
  CancelNode* up = parent() ? parent()->canceller() : nullptr;
  if (!up) return;
  std::lock_guard lock(up->mu_);
  if (static_cast<Hook<ChildTag>*>(this)->linked()) List<CancelNode, ChildTag>::erase(this);
}

std::exception_ptr CancelNode::cause() const {
  if (!done()) return nullptr;
  std::lock_guard lock(mu_);
  return cause_ ? cause_ : std::make_exception_ptr(ContextError(err()));
}

bool CancelNode::add_waiter(ContextWaiter* w) noexcept {
  std::lock_guard lock(mu_);
  if (state_.load(std::memory_order_relaxed)) return false;
  waiters_.push_back(w);
  return true;
}

bool CancelNode::remove_waiter(ContextWaiter* w) noexcept {
  std::lock_guard lock(mu_);
  if (!static_cast<Hook<CtxWaitTag>*>(w)->linked()) return false;
  List<ContextWaiter, CtxWaitTag>::erase(w);
  return true;
}

namespace {

// The work list of a propagating cancel() threads through the `prev` field of children
// already popped from their parent: their `next` stays null, so they read as unlinked to
// anyone who looks (a concurrent detach_from_parent), and nothing else uses the hook again.
CancelNode* take_pending(CancelNode*& pending) noexcept {
  CancelNode* child = pending;
  Hook<ChildTag>* hook = child;
  pending = static_cast<CancelNode*>(hook->prev);
  hook->prev = nullptr;
  return child;
}

void push_pending(CancelNode*& pending, CancelNode* child) noexcept {
  Hook<ChildTag>* hook = child;
  hook->prev = pending;  // converts: CancelNode derives from Hook<ChildTag>
  pending = child;
}

}  // namespace

bool CancelNode::cancel(Errc why, std::exception_ptr cause) noexcept {
  CancelNode* pending = nullptr;
  if (!cancel_one(why, cause, pending)) return false;
  detach_from_parent();
  // Iterative, so a deep tree cannot overflow the stack.
  while (pending) {
    CancelNode* child = take_pending(pending);
    child->cancel_one(why, cause, pending);
    child->release();
  }
  return true;
}

bool CancelNode::cancel_one(Errc why, std::exception_ptr cause, CancelNode*& pending) noexcept {
  {
    std::lock_guard lock(mu_);
    if (state_.load(std::memory_order_relaxed)) return false;
    cause_ = std::move(cause);
    state_.store(static_cast<std::uint8_t>(why), std::memory_order_release);
    const std::error_code ec = why;
    while (ContextWaiter* w = waiters_.pop_front()) w->on_cancel(w, ec);
    while (CancelNode* child = children_.pop_front()) {
      // A child whose count reached zero is being destroyed; popping it is all it needs.
      if (child->try_add_ref()) push_pending(pending, child);
    }
  }
  on_cancelled();
  return true;
}

// ---------------------------------------------------------------- deadlines

DeadlineNode::DeadlineNode(Ref<ContextNode> parent, TimePoint when) noexcept
    : CancelNode(std::move(parent), when) {}

Ref<CancelNode> DeadlineNode::make(const Ref<ContextNode>& parent, TimePoint when) {
  return make(parent, when, when <= Clock::now());
}

Ref<CancelNode> DeadlineNode::make(const Ref<ContextNode>& parent, TimePoint when, bool passed) {
  if (parent && parent->deadline() <= when) return CancelNode::make(parent);
  Ref<DeadlineNode> node(new DeadlineNode(parent, when), adopt_ref);
  if (passed) {
    node->attach();
    node->cancel(Errc::deadline_exceeded);
    return node;
  }
  node->queue_ = DeadlineQueue::for_current_thread();  // before other threads can see the node
  node->attach();
  if (!node->done()) node->queue_->add(node.get());
  return node;
}

DeadlineNode::~DeadlineNode() {
  if (queue_) queue_->remove(this);
}

void DeadlineNode::on_cancelled() noexcept {
  if (queue_) queue_->remove(this);
}

Ref<CancelNode> RootNode::make(std::weak_ptr<SchedulerCore> scheduler) {
  return Ref<CancelNode>(new RootNode(std::move(scheduler)), adopt_ref);
}

}  // namespace spindle::detail
