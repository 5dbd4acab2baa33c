#include "spindle/detail/op_cancellation.hpp"

#include <asio/post.hpp>
#include <stdexcept>

#include "spindle/detail/worker.hpp"

namespace spindle::detail {

class OpCancellation::Bridge final : public ContextWaiter, public RefCounted, public CachedAllocation {
 public:
  Bridge(CancelNode* ctx, asio::io_context& io) noexcept
      : ContextWaiter(&on_cancel), ctx_(ctx), io_(io) {}

  asio::cancellation_signal signal;
  Ref<CancelNode> ctx_;
  asio::io_context& io_;

 private:
  static void on_cancel(ContextWaiter* w, std::error_code) noexcept {
    auto* self = static_cast<Bridge*>(w);
    if (self->io_.get_executor().running_in_this_thread()) {
      // Same thread as the operation: emitting here is what Asio allows; it only posts the
      // aborted completion.
      self->signal.emit(asio::cancellation_type::terminal);
      return;
    }
    asio::post(self->io_, [bridge = Ref<Bridge>(self)] {
      bridge->signal.emit(asio::cancellation_type::terminal);
    });
  }
};

OpCancellation::OpCancellation(const Context& ctx) {
  CancelNode* canceller = ctx.canceller();
  if (!canceller) return;
  asio::io_context* io = current_io();
  if (!io) throw std::logic_error("spindle: a cancellable await must run on a scheduler worker");
  bridge_ = new Bridge(canceller, *io);
  // If the context is already done it is not registered (remove_waiter then does nothing);
  // callers check done() after constructing this and before starting the operation.
  canceller->add_waiter(bridge_);
}

OpCancellation::~OpCancellation() {
  if (!bridge_) return;
  if (bridge_->ctx_) bridge_->ctx_->remove_waiter(bridge_);
  // A cancellation still on its way from another thread then finds no handler.
  bridge_->signal.slot().clear();
  bridge_->release();
}

CancelNode* OpCancellation::context() const noexcept { return bridge_ ? bridge_->ctx_.get() : nullptr; }

asio::cancellation_slot OpCancellation::slot() noexcept {
  return bridge_ ? bridge_->signal.slot() : asio::cancellation_slot();
}

}  // namespace spindle::detail
