#include "spindle/handlers/echo.hpp"

#include <spdlog/spdlog.h>

#include "spindle/tcp/buffer_pool.hpp"

namespace spindle::handlers {
namespace {

/// `ctx`, or a child of it that expires after the idle timeout.
WithCancel<CancelFunc> idle_scope(const Context& ctx, std::chrono::milliseconds idle) {
  return idle.count() > 0 ? with_timeout(ctx, idle) : with_cancel(ctx);
}

/// Sends back everything readable now. False when the connection is done: the peer closed
/// (then our side is half-closed after the last byte), an error, a peer that stopped reading
/// for the idle timeout, or cancellation. A separate coroutine, so the buffer and the write
/// state exist only while bytes flow and an idle connection's frame stays small.
Task<bool> echo_available(const Context& ctx, tcp::Conn& conn, const EchoOptions& options) {
  auto buffer = tcp::PooledBuffer::borrow();
  for (;;) {
    const tcp::IoResult got = conn.try_read(buffer.span());
    if (got.error == asio::error::would_block) co_return true;  // drained: back to waiting
    if (got.error || got.bytes == 0) {
      if (got.error == asio::error::eof) conn.shutdown_send();
      co_return false;
    }
    // Most echoes fit the socket's send buffer: write without waiting first, and only wait
    // (bounded by the idle timeout) for what a slow reader leaves over.
    tcp::IoResult put = conn.try_write({buffer.data(), got.bytes});
    if (put.error && put.error != asio::error::would_block) co_return false;
    if (put.bytes < got.bytes) {
      const std::size_t done = put.error ? 0 : put.bytes;
      auto [write_ctx, write_done] = idle_scope(ctx, options.idle_timeout);
      co_await conn.write_all_into(write_ctx, {buffer.data() + done, got.bytes - done}, put);
      if (put.error) {
        if (put.error == Errc::deadline_exceeded && !ctx.done())
          spdlog::debug("echo {}: peer not reading for {}ms, closing", conn.peer(),
                        options.idle_timeout.count());
        co_return false;
      }
    }
    // A short read means the socket is drained (a later arrival wakes the wait again), which
    // saves the read that would only say EAGAIN.
    if (got.bytes < tcp::PooledBuffer::size) co_return true;
  }
}

}  // namespace

Task<void> echo(Context ctx, tcp::Conn conn, EchoOptions options) {
  std::error_code ec;
  for (;;) {
    {
      auto [idle_ctx, done] = idle_scope(ctx, options.idle_timeout);
      co_await conn.wait_readable_into(idle_ctx, ec);
    }
    if (ec) {
      if (ec == Errc::deadline_exceeded && !ctx.done())
        spdlog::debug("echo {}: idle for {}ms, closing", conn.peer(), options.idle_timeout.count());
      co_return;
    }
    if (!co_await echo_available(ctx, conn, options)) co_return;
  }
}

}  // namespace spindle::handlers
