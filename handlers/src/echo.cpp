#include "spindle/handlers/echo.hpp"

#include <spdlog/spdlog.h>

#include <array>
#include <cstring>

#include "spindle/tcp/buffer_pool.hpp"

namespace spindle::handlers {
namespace {

/// Bytes an idle connection keeps for the start of the next message (small messages fit). Reading into it (rather
/// than waiting for readability and then reading) spares a syscall per message: Asio
/// re-registers a socket with epoll on every readiness wait, but not on a read.
constexpr std::size_t head_size = 96;

/// `ctx`, or a child of it that expires after the idle timeout.
WithCancel<CancelFunc> idle_scope(const Context& ctx, std::chrono::milliseconds idle) {
  return idle.count() > 0 ? with_timeout(ctx, idle) : with_cancel(ctx);
}

/// Sends `data` back: without waiting when the socket takes it all (the usual case), else
/// waiting — bounded by the idle timeout — for a slow reader. False if the connection is done.
Task<bool> send_back(const Context& ctx, tcp::Conn& conn, const EchoOptions& options,
                     std::span<const char> data) {
  tcp::IoResult put = conn.try_write(data);
  if (put.error && put.error != asio::error::would_block) co_return false;
  const std::size_t sent = put.error ? 0 : put.bytes;
  if (sent == data.size()) co_return true;
  auto [write_ctx, done] = idle_scope(ctx, options.idle_timeout);
  co_await conn.write_all_into(write_ctx, data.subspan(sent), put);
  if (put.error == Errc::deadline_exceeded && !ctx.done())
    spdlog::debug("echo {}: peer not reading for {}ms, closing", conn.peer(),
                  options.idle_timeout.count());
  co_return !put.error;
}

/// Whether the read that gave `got` into `room` bytes left more in the socket: the kernel's
/// count where it gives one, else a guess from a full buffer.
bool more_queued(const tcp::Conn& conn, const tcp::IoResult& got, std::size_t room) {
  if (const auto queued = conn.queued_after_read()) return *queued > 0;
  return !got.error && got.bytes == room;
}

/// After a head with more queued behind it: reads the rest behind the head in a buffer borrowed
/// for the purpose and sends everything back in one write per buffer — never the head alone,
/// which would cost a write and wake the peer twice per message. False if the connection is
/// done (then our side is half-closed after the last byte if the peer half-closed).
Task<bool> send_back_with_rest(const Context& ctx, tcp::Conn& conn, const EchoOptions& options,
                               std::span<const char> head) {
  auto buffer = tcp::PooledBuffer::borrow();
  std::memcpy(buffer.data(), head.data(), head.size());
  std::size_t filled = head.size();
  for (;;) {
    const std::span<char> rest = buffer.span().subspan(filled);
    tcp::IoResult got;
    if (conn.queued_after_read().value_or(0) > 0) {
      // The kernel counted bytes queued: this read completes at once, and a read that empties
      // the socket spares the next one its attempt.
      co_await conn.read_some_into(ctx, rest, got);
    } else {
      got = conn.try_read(rest);
    }
    const bool ended = got.error && got.error != asio::error::would_block;
    if (!got.error) filled += got.bytes;
    if (filled > 0 && !co_await send_back(ctx, conn, options, {buffer.data(), filled})) co_return false;
    filled = 0;
    if (ended) {
      if (got.error == asio::error::eof) conn.shutdown_send();
      co_return false;
    }
    // The socket is drained: a later arrival wakes the next read.
    if (!more_queued(conn, got, rest.size())) co_return true;
  }
}

/// Handles one read: sends the head back, with the rest if it was full. False if the
/// connection is done. Kept out of echo() so echo's frame — what an idle connection holds —
/// has room for just the head and one await.
Task<bool> respond(const Context& ctx, tcp::Conn& conn, const EchoOptions& options,
                   std::span<const char> head, const tcp::IoResult& got) {
  if (got.error) {
    if (got.error == asio::error::eof) conn.shutdown_send();  // all was sent back already
    if (got.error == Errc::deadline_exceeded && !ctx.done())
      spdlog::debug("echo {}: idle for {}ms, closing", conn.peer(), options.idle_timeout.count());
    co_return false;
  }
  // (No co_await inside ?: or || here: GCC 12 miscompiles awaits in such operands.)
  bool more;
  if (more_queued(conn, got, head.size()))
    more = co_await send_back_with_rest(ctx, conn, options, head.first(got.bytes));
  else
    more = co_await send_back(ctx, conn, options, head.first(got.bytes));
  co_return more;
}

}  // namespace

Task<void> echo(Context ctx, tcp::Conn conn, EchoOptions options) {
  std::array<char, head_size> head;
  tcp::IoResult got;
  for (;;) {
    {
      auto [idle_ctx, done] = idle_scope(ctx, options.idle_timeout);
      co_await conn.read_some_into(idle_ctx, head, got);
    }
    const bool go_on = co_await respond(ctx, conn, options, head, got);
    if (!go_on) co_return;
  }
}

}  // namespace spindle::handlers
