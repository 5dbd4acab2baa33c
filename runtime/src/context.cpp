#include "spindle/context.hpp"

#include <asio/post.hpp>
#include <mutex>

#include "spindle/detail/park.hpp"
#include "spindle/detail/worker.hpp"

namespace spindle {

bool Context::done() const noexcept {
  auto* c = canceller();
  return c && c->done();
}

std::error_code Context::err() const noexcept {
  auto* c = canceller();
  return c ? c->err() : std::error_code{};
}

std::exception_ptr Context::cause() const {
  auto* c = canceller();
  return c ? c->cause() : nullptr;
}

std::optional<TimePoint> Context::deadline() const noexcept {
  if (!node_ || node_->deadline() == detail::no_deadline) return std::nullopt;
  return node_->deadline();
}

namespace {

// A free coroutine holding its own reference: a member coroutine would keep `this`, and a
// Context is often a temporary (`return ctx.wait();`).
Task<std::error_code> wait_for(detail::Ref<detail::CancelNode> c, std::source_location where) {
  if (c && c->done()) co_return c->err();
  detail::ParkOp op;
  co_await op.suspend(c.get(), where, [](detail::ParkOp&) noexcept {});
  co_return op.result();
}

}  // namespace

Task<std::error_code> Context::wait(std::source_location where) const {
  return wait_for(detail::Ref<detail::CancelNode>(canceller()), where);
}

void CancelFunc::operator()() const noexcept { node_->cancel(Errc::canceled); }

void CancelCauseFunc::operator()(std::exception_ptr cause) const noexcept {
  node_->cancel(Errc::canceled, std::move(cause));
}

WithCancel<CancelFunc> with_cancel(const Context& parent) {
  auto node = detail::CancelNode::make(parent.node());
  return {Context(detail::Ref<detail::ContextNode>(node)), CancelFunc(node)};
}

WithCancel<CancelCauseFunc> with_cancel_cause(const Context& parent) {
  auto node = detail::CancelNode::make(parent.node());
  return {Context(detail::Ref<detail::ContextNode>(node)), CancelCauseFunc(node)};
}

WithCancel<CancelFunc> with_deadline(const Context& parent, TimePoint deadline) {
  auto node = detail::DeadlineNode::make(parent.node(), deadline);
  return {Context(detail::Ref<detail::ContextNode>(node)), CancelFunc(node)};
}

WithCancel<CancelFunc> with_timeout(const Context& parent, Clock::duration timeout) {
  auto node = detail::DeadlineNode::make(parent.node(), Clock::now() + timeout, timeout <= Clock::duration::zero());
  return {Context(detail::Ref<detail::ContextNode>(node)), CancelFunc(node)};
}

Context without_cancel(const Context& parent) {
  return Context(detail::Ref<detail::ContextNode>(new detail::DetachedNode(parent.node()),
                                                  detail::adopt_ref));
}

// ---------------------------------------------------------------- after_func

namespace {

/// Registered on the context; posts `f` to `io` when the context is cancelled. The
/// registration owns one reference, given up when it fires or is stopped.
class AfterFunc final : public detail::ContextWaiter, public detail::RefCounted {
 public:
  AfterFunc(asio::io_context& io, std::function<void()> f)
      : ContextWaiter(&on_cancel), io_(io), f_(std::move(f)) {}

  void post() {
    asio::post(io_, [self = detail::Ref<AfterFunc>(this)] { self->f_(); });
  }

 private:
  static void on_cancel(ContextWaiter* w, std::error_code) noexcept {
    auto* self = static_cast<AfterFunc*>(w);
    self->post();
    self->release();
  }
  asio::io_context& io_;
  std::function<void()> f_;
};

}  // namespace

bool AfterFuncStop::operator()() const { return stop_ && stop_(); }

AfterFuncStop after_func(const Context& ctx, std::function<void()> f) {
  asio::io_context* io = detail::current_io();
  if (!io) io = &detail::fallback_io();
  detail::CancelNode* c = ctx.canceller();
  if (!c) return AfterFuncStop([] { return true; });  // never cancelled: never runs
  auto* registration = new AfterFunc(*io, std::move(f));
  if (!c->add_waiter(registration)) {
    registration->post();
    registration->release();
    return AfterFuncStop([] { return false; });
  }
  return AfterFuncStop([waiter = detail::Ref<AfterFunc>(registration),
                        node = detail::Ref<detail::CancelNode>(c)] {
    if (!node->remove_waiter(waiter.get())) return false;
    waiter->release();  // the registration's reference
    return true;
  });
}

}  // namespace spindle
