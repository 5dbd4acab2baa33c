#include "spindle/handlers/echo.hpp"

#include <spdlog/spdlog.h>

#include "spindle/tcp/buffer_pool.hpp"

namespace spindle::handlers {
namespace {

/// `ctx`, or a child of it that expires after the idle timeout.
WithCancel<CancelFunc> idle_scope(const Context& ctx, std::chrono::milliseconds idle) {
  return idle.count() > 0 ? with_timeout(ctx, idle) : with_cancel(ctx);
}

}  // namespace

Task<void> echo(Context ctx, tcp::Conn& conn, EchoOptions options) {
  for (;;) {
    auto [idle_ctx, done] = idle_scope(ctx, options.idle_timeout);
    if (auto ec = co_await conn.wait_readable(idle_ctx)) {
      if (ec == Errc::deadline_exceeded && !ctx.done())
        spdlog::debug("echo {}: idle for {}ms, closing", conn.peer(), options.idle_timeout.count());
      co_return;
    }
    auto buffer = tcp::PooledBuffer::borrow();
    for (;;) {
      const tcp::IoResult got = conn.try_read(buffer.span());
      if (got.error == asio::error::would_block) break;  // drained: back to waiting, buffer returned
      if (got.error || got.bytes == 0) {
        // End of stream (the peer half-closed) or an error: everything read was already
        // written back, so finish our side and close.
        if (got.error == asio::error::eof) conn.shutdown_send();
        co_return;
      }
      // A peer that stops reading holds the write; the idle timeout bounds that too.
      auto [write_ctx, write_done] = idle_scope(ctx, options.idle_timeout);
      const tcp::IoResult put = co_await conn.write_all(write_ctx, {buffer.data(), got.bytes});
      if (put.error) {
        if (put.error == Errc::deadline_exceeded && !ctx.done())
          spdlog::debug("echo {}: peer not reading for {}ms, closing", conn.peer(),
                        options.idle_timeout.count());
        co_return;
      }
    }
  }
}

}  // namespace spindle::handlers
