// Binding a Context to one pending Asio operation (a timer wait, a socket read, ...), so that
// cancelling the context aborts the operation itself rather than being noticed afterwards.
#pragma once

#include <asio/cancellation_signal.hpp>
#include <asio/io_context.hpp>
#include <utility>

#include "spindle/context.hpp"

namespace spindle::detail {

/// Lives in the awaiting coroutine's frame around one Asio operation started with
/// `asio::bind_cancellation_slot(op.slot(), token)`. When the context is cancelled, the
/// operation's cancellation signal is emitted with `terminal` on the operation's own thread —
/// at once if the canceller runs there, else posted — because Asio's cancellation signals are
/// not thread-safe. The signal lives in a reference-counted bridge, so a cancellation posted
/// from another thread can never touch a frame that has already moved on. Bridges are
/// recycled per thread (keeping the signal, and so Asio's memory for the slot's handler);
/// one is reused only after every posted cancellation holding it has run or been dropped.
/// `ctx` must outlive this object.
class OpCancellation {
 public:
  /// Registers with `ctx` on the calling worker thread. If ctx cannot be cancelled the slot
  /// stays unconnected and no bridge is taken.
  explicit OpCancellation(const Context& ctx);
  ~OpCancellation();
  OpCancellation(OpCancellation&& o) noexcept : bridge_(std::exchange(o.bridge_, nullptr)) {}
  OpCancellation(const OpCancellation&) = delete;
  OpCancellation& operator=(const OpCancellation&) = delete;

  /// The slot to bind the operation to.
  asio::cancellation_slot slot() noexcept;
  /// The cancellable node this is bound to, or nullptr if the context cannot be cancelled.
  CancelNode* context() const noexcept;

  /// The context's waiter and the operation's signal (op_cancellation.cpp).
  class Bridge;

 private:
  Bridge* bridge_ = nullptr;
};

}  // namespace spindle::detail
