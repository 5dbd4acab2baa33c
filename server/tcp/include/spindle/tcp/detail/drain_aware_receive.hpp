// A TCP receive that tells Asio's reactor when it emptied the socket, so that the next read
// waits for the next readiness event instead of trying a read that can only fail.
//
// Why: a request/response connection alternates "read a message, answer it, read again". The
// read after an answer almost always finds nothing (the peer has not seen the answer yet), yet
// Asio tries it (a recvmsg that returns EAGAIN) before it waits, because a short read does
// not prove the socket is empty: a FIN that arrived with the data leaves a pending end of
// stream behind it. With TCP_INQ set on the socket (spindle's listener sets it; accepted
// sockets inherit it), every read also reports how much is still queued — nonzero when an
// end of stream is pending — so a read that leaves zero did empty the socket. This
// operation then reports itself "done and exhausted", which is how Asio's epoll reactor marks
// a descriptor as not worth a speculative attempt until its next edge: the following read is
// queued without a system call and completes on the next event. One system call fewer per
// message: measured in docs/RUNTIME.md ("Reads that empty the socket").
//
// It is Asio's reactive_socket_recv_op with a different perform step, built on Asio's
// reactor interface (asio::detail), so it exists only where Asio uses the epoll reactor;
// elsewhere, and on sockets without TCP_INQ, reads behave exactly like async_read_some.
//
// The handler also learns the queued count, so a caller that sees bytes still queued can read
// them with another of these operations (it completes at once) rather than a plain read,
// which would leave the socket's next read to try its luck again.
#pragma once

#include <asio/detail/config.hpp>

#if defined(ASIO_HAS_EPOLL) && !defined(ASIO_HAS_IO_URING_AS_DEFAULT)
#define SPINDLE_DRAIN_AWARE_RECEIVE 1

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <asio/associated_cancellation_slot.hpp>
#include <asio/basic_stream_socket.hpp>
#include <asio/detail/bind_handler.hpp>
#include <asio/detail/fenced_block.hpp>
#include <asio/detail/handler_alloc_helpers.hpp>
#include <asio/detail/handler_work.hpp>
#include <asio/detail/reactor.hpp>
#include <asio/detail/reactor_op.hpp>
#include <asio/detail/socket_ops.hpp>
#include <asio/error.hpp>
#include <cerrno>
#include <cstring>
#include <memory>
#include <system_error>
#include <utility>

namespace spindle::detail {

/// Bytes the kernel reported still queued after a recvmsg on a TCP_INQ socket; -1 if it did
/// not say (TCP_INQ not set, or a kernel before 4.18).
inline int queued_after(const msghdr& msg) noexcept {
  for (const cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(const_cast<msghdr*>(&msg), const_cast<cmsghdr*>(c)))
    if (c->cmsg_level == SOL_TCP && c->cmsg_type == TCP_CM_INQ) {
      int queued;
      std::memcpy(&queued, CMSG_DATA(c), sizeof queued);
      return queued;
    }
  return -1;
}

/// Removes a pending DrainAwareReceiveOp from the reactor when its cancellation slot fires.
class CancelReceive {
 public:
  CancelReceive(asio::detail::reactor& reactor, asio::detail::reactor::per_descriptor_data& data, int fd)
      : reactor_(reactor), data_(data), fd_(fd) {}
  void operator()(asio::cancellation_type_t type) {
    using asio::cancellation_type;
    if (!!(type & (cancellation_type::terminal | cancellation_type::partial | cancellation_type::total)))
      reactor_.cancel_ops_by_key(fd_, data_, asio::detail::reactor::read_op, this);
  }

 private:
  asio::detail::reactor& reactor_;
  asio::detail::reactor::per_descriptor_data& data_;
  int fd_;
};

/// The reactor operation: one recvmsg per attempt into one buffer.
template <class Handler, class IoExecutor>
class DrainAwareReceiveOp : public asio::detail::reactor_op {
 public:
  ASIO_DEFINE_HANDLER_PTR(DrainAwareReceiveOp);

  DrainAwareReceiveOp(int fd, asio::mutable_buffer buffer, Handler& handler, const IoExecutor& io_ex)
      : reactor_op(std::error_code(), &DrainAwareReceiveOp::do_perform, &DrainAwareReceiveOp::do_complete),
        fd_(fd),
        buffer_(buffer),
        handler_(std::move(handler)),
        work_(handler_, io_ex) {}

  static status do_perform(reactor_op* base) {
    auto* o = static_cast<DrainAwareReceiveOp*>(base);
    iovec iov{o->buffer_.data(), o->buffer_.size()};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n;
    do n = ::recvmsg(o->fd_, &msg, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return not_done;
      o->ec_ = std::error_code(errno, asio::error::get_system_category());
      o->bytes_transferred_ = 0;
      return done;
    }
    o->bytes_transferred_ = static_cast<std::size_t>(n);
    if (n == 0) {  // end of stream (the buffer is never empty): nothing will follow
      o->ec_ = asio::error::eof;
      o->queued_ = 0;
      return done_and_exhausted;
    }
    o->ec_ = std::error_code();
    o->queued_ = queued_after(msg);
    return o->queued_ == 0 ? done_and_exhausted : done;
  }

  static void do_complete(void* owner, asio::detail::operation* base, const std::error_code&, std::size_t) {
    // As Asio's own operations: move the handler out, free the operation, then call it (or,
    // with no owner — the io_context's teardown — only destroy it).
    auto* o = static_cast<DrainAwareReceiveOp*>(base);
    ptr p = {std::addressof(o->handler_), o, o};
    asio::detail::handler_work<Handler, IoExecutor> work(std::move(o->work_));
    asio::detail::binder3<Handler, std::error_code, std::size_t, int> call(o->handler_, o->ec_, o->bytes_transferred_,
                                                                          o->queued_);
    p.h = std::addressof(call.handler_);
    p.reset();
    if (owner) {
      asio::detail::fenced_block fence(asio::detail::fenced_block::half);
      work.complete(call, call.handler_);
    }
  }

 private:
  int fd_;
  int queued_ = -1;  // queued_after() of the last successful attempt
  asio::mutable_buffer buffer_;
  Handler handler_;
  asio::detail::handler_work<Handler, IoExecutor> work_;
};

/// Reads what is available into `buffer` (not empty), waiting for at least one byte, and
/// calls `handler(error_code, bytes, queued)` — as `socket.async_read_some(buffer, handler)`
/// does, plus the bytes the kernel still holds (queued_after(); 0 after an end of stream, -1
/// if unknown or on error) — with the drain noted as above. `reactor` is the socket's
/// io_context's reactor.
template <class Protocol, class Executor, class Handler>
void async_receive_noting_drain(asio::basic_stream_socket<Protocol, Executor>& socket,
                                asio::detail::reactor& reactor, asio::mutable_buffer buffer, Handler handler) {
  // The socket's implementation is a protected member; a pointer to it formed through a
  // derived class may be applied to any socket.
  struct Internals : asio::basic_stream_socket<Protocol, Executor> {
    static auto& of(asio::basic_stream_socket<Protocol, Executor>& s) { return s.*(&Internals::impl_); }
  };
  auto& io_object = Internals::of(socket);
  auto& impl = io_object.get_implementation();
  using Op = DrainAwareReceiveOp<Handler, Executor>;
  auto slot = asio::get_associated_cancellation_slot(handler);
  typename Op::ptr p = {std::addressof(handler), Op::ptr::allocate(handler), nullptr};
  p.p = new (p.v) Op(impl.socket_, buffer, handler, io_object.get_executor());
  if (slot.is_connected())
    p.p->cancellation_key_ = &slot.template emplace<CancelReceive>(reactor, impl.reactor_data_, impl.socket_);
  // Asio's reactor attempts the read at once unless the descriptor was marked exhausted.
  if ((impl.state_ & asio::detail::socket_ops::non_blocking) ||
      asio::detail::socket_ops::set_internal_non_blocking(impl.socket_, impl.state_, true, p.p->ec_))
    reactor.start_op(asio::detail::reactor::read_op, impl.socket_, impl.reactor_data_, p.p, false, true);
  else
    reactor.post_immediate_completion(p.p, false);
  p.v = p.p = nullptr;
}

}  // namespace spindle::detail

#endif
