// tcp::Conn: one TCP connection, every blocking operation taking a Context that aborts it.
#pragma once

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <source_location>
#include <span>
#include <string>
#include <system_error>

#include "spindle/context.hpp"
#include "spindle/detail/asio_await.hpp"
#include "spindle/task.hpp"
#include "spindle/tcp/detail/drain_aware_receive.hpp"

namespace spindle::tcp {

/// Bytes moved by an operation and why it stopped, if it did. `while (auto r = co_await
/// conn.read_some(ctx, buf))` reads until end of stream, an error, or cancellation.
struct IoResult {
  std::size_t bytes = 0;
  /// Empty on success; asio::error::eof at end of stream; the context's error (Errc::canceled,
  /// Errc::deadline_exceeded) when the context ended; else the socket error.
  std::error_code error;
  explicit operator bool() const noexcept { return !error && bytes > 0; }
};

/// A TCP socket bound to one worker's io_context (no type-erased executor: smaller, faster).
using Socket = asio::basic_stream_socket<asio::ip::tcp, asio::io_context::executor_type>;

class Conn;

/// Told when a connection closes: how a listener keeps its open count and logs the close.
class ConnObserver {
 public:
  virtual ~ConnObserver() = default;
  virtual void closed(const Conn& conn) noexcept = 0;
};

/// A connected TCP socket. Awaits are cancellable through their Context: cancelling it aborts
/// the pending read or write itself. One reader and one writer may be active at a time.
/// close() is idempotent; the destructor closes. Waits and writes also come in an `_into`
/// form that writes the outcome to a variable of the caller and costs no coroutine frame
/// (`co_await conn.write_all_into(ctx, data, result)`), for hot paths.
class Conn {
 public:
  /// Takes a connected socket, bound to the io_context of the fiber that will use it.
  explicit Conn(Socket socket, std::shared_ptr<ConnObserver> observer = nullptr);
  Conn(Conn&&) noexcept = default;
  Conn& operator=(Conn&&) noexcept = delete;
  ~Conn();

  /// Waits until the socket is readable (data, end of stream or error) without holding a
  /// buffer — what lets an idle connection cost no read buffer.
  Task<std::error_code> wait_readable(Context ctx,
                                      std::source_location where = std::source_location::current());
  /// wait_readable without a frame: `co_await conn.wait_readable_into(ctx, ec)`.
  auto wait_readable_into(const Context& ctx, std::error_code& out,
                          std::source_location where = std::source_location::current()) {
    return detail::await_asio(
        ctx, where, [&out](std::error_code ec) { out = ec; },
        [this](auto handler) { socket_.async_wait(Socket::wait_read, std::move(handler)); });
  }
  /// read_some without a frame: `co_await conn.read_some_into(ctx, buf, result)`.
  auto read_some_into(const Context& ctx, std::span<char> buf, IoResult& out,
                      std::source_location where = std::source_location::current()) {
    return detail::await_asio(
        ctx, where,
        [this, &out](std::error_code ec, std::size_t n = 0, int queued = -1) {
          bytes_read_ += n;
          queued_after_read_ = queued;
          out = {n, ec};
        },
        [this, buf](auto handler) { start_read_some(asio::buffer(buf.data(), buf.size()), std::move(handler)); });
  }
  /// Bytes the kernel still held for this socket right after the last read_some, as it
  /// reported them (TCP_INQ; a pending end of stream counts as one), or nullopt where it did
  /// not or when another kind of read came last. When positive, the next read_some completes
  /// without waiting.
  std::optional<std::size_t> queued_after_read() const noexcept {
    if (queued_after_read_ < 0) return std::nullopt;
    return static_cast<std::size_t>(queued_after_read_);
  }
  /// Reads whatever is there now, without waiting: asio::error::would_block if nothing is.
  IoResult try_read(std::span<char> buf);
  /// Writes what the socket takes now, without waiting (possibly less than `data`);
  /// asio::error::would_block if it takes nothing.
  IoResult try_write(std::span<const char> data);
  /// Waits for at least one byte and reads what is available.
  Task<IoResult> read_some(Context ctx, std::span<char> buf,
                           std::source_location where = std::source_location::current());
  /// Reads exactly buf.size() bytes; asio::error::eof if the stream ends first.
  Task<IoResult> read_exact(Context ctx, std::span<char> buf,
                            std::source_location where = std::source_location::current());
  /// Writes all of `data`, waiting while the peer does not read.
  Task<IoResult> write_all(Context ctx, std::span<const char> data,
                           std::source_location where = std::source_location::current());
  /// write_all without a frame: `co_await conn.write_all_into(ctx, data, result)`.
  auto write_all_into(const Context& ctx, std::span<const char> data, IoResult& out,
                      std::source_location where = std::source_location::current()) {
    return detail::await_asio(
        ctx, where,
        [this, &out](std::error_code ec, std::size_t n = 0) {
          bytes_written_ += n;
          out = {n, ec};
        },
        [this, data](auto handler) {
          asio::async_write(socket_, asio::buffer(data.data(), data.size()), std::move(handler));
        });
  }

  /// Half-close: sends FIN; reading stays possible.
  void shutdown_send() noexcept;
  /// Closes the socket; idempotent.
  void close() noexcept;
  bool is_open() const noexcept { return socket_.is_open(); }

  /// "127.0.0.1:51234" (or "[::1]:51234"), fixed at construction.
  const std::string& peer() const noexcept { return peer_; }
  std::uint64_t bytes_read() const noexcept { return bytes_read_; }
  std::uint64_t bytes_written() const noexcept { return bytes_written_; }
  /// When the connection was set up.
  std::chrono::steady_clock::time_point opened() const noexcept { return opened_; }
  Socket& socket() noexcept { return socket_; }

 private:
  template <class Handler>
  void start_read_some(asio::mutable_buffer buf, Handler handler) {
#ifdef SPINDLE_DRAIN_AWARE_RECEIVE
    if (buf.size() > 0) return detail::async_receive_noting_drain(socket_, *reactor_, buf, std::move(handler));
#endif
    socket_.async_read_some(buf, std::move(handler));
  }

  Socket socket_;
#ifdef SPINDLE_DRAIN_AWARE_RECEIVE
  asio::detail::reactor* reactor_;  // the socket's io_context's, looked up once
#endif
  std::string peer_;
  std::uint64_t bytes_read_ = 0;
  std::uint64_t bytes_written_ = 0;
  int queued_after_read_ = -1;  // see queued_after_read()
  std::chrono::steady_clock::time_point opened_;
  std::shared_ptr<ConnObserver> observer_;
};

/// "1.2.3.4:80" or "[::1]:80".
std::string to_string(const asio::ip::tcp::endpoint& endpoint);

}  // namespace spindle::tcp
