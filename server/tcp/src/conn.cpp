#include "spindle/tcp/conn.hpp"

#include <asio/bind_cancellation_slot.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/read.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include "spindle/detail/op_cancellation.hpp"

namespace spindle::tcp {
namespace {

constexpr auto as_tuple = asio::experimental::as_tuple(asio::use_awaitable);

/// An aborted operation reports its context's error; anything else is passed on.
std::error_code outcome(std::error_code ec, const Context& ctx) {
  if (ec == asio::error::operation_aborted && ctx.done()) return ctx.err();
  return ec;
}

}  // namespace

std::string to_string(const asio::ip::tcp::endpoint& endpoint) {
  const auto address = endpoint.address();
  const std::string host = address.to_string();
  return (address.is_v6() ? "[" + host + "]" : host) + ":" + std::to_string(endpoint.port());
}

Conn::Conn(asio::ip::tcp::socket socket) : socket_(std::move(socket)) {
  asio::error_code ec;
  auto remote = socket_.remote_endpoint(ec);
  peer_ = ec ? "?" : to_string(remote);
  socket_.non_blocking(true, ec);
}

Conn::~Conn() { close(); }

void Conn::close() noexcept {
  asio::error_code ignored;
  if (socket_.is_open()) socket_.close(ignored);
}

void Conn::shutdown_send() noexcept {
  asio::error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
}

IoResult Conn::try_read(std::span<char> buf) {
  asio::error_code ec;
  const std::size_t n = socket_.read_some(asio::buffer(buf.data(), buf.size()), ec);
  bytes_read_ += n;
  return {n, ec};
}

Task<std::error_code> Conn::wait_readable(Context ctx, std::source_location where) {
  detail::OpCancellation cancellation(ctx);
  if (ctx.done()) co_return ctx.err();
  detail::AwaitSite site(where);
  auto [ec] = co_await socket_.async_wait(asio::ip::tcp::socket::wait_read,
                                          asio::bind_cancellation_slot(cancellation.slot(), as_tuple));
  co_return outcome(ec, ctx);
}

Task<IoResult> Conn::read_some(Context ctx, std::span<char> buf, std::source_location where) {
  detail::OpCancellation cancellation(ctx);
  if (ctx.done()) co_return IoResult{0, ctx.err()};
  detail::AwaitSite site(where);
  auto [ec, n] = co_await socket_.async_read_some(
      asio::buffer(buf.data(), buf.size()), asio::bind_cancellation_slot(cancellation.slot(), as_tuple));
  bytes_read_ += n;
  co_return IoResult{n, outcome(ec, ctx)};
}

Task<IoResult> Conn::read_exact(Context ctx, std::span<char> buf, std::source_location where) {
  detail::OpCancellation cancellation(ctx);
  if (ctx.done()) co_return IoResult{0, ctx.err()};
  detail::AwaitSite site(where);
  auto [ec, n] = co_await asio::async_read(socket_, asio::buffer(buf.data(), buf.size()),
                                           asio::bind_cancellation_slot(cancellation.slot(), as_tuple));
  bytes_read_ += n;
  co_return IoResult{n, outcome(ec, ctx)};
}

Task<IoResult> Conn::write_all(Context ctx, std::span<const char> data, std::source_location where) {
  detail::OpCancellation cancellation(ctx);
  if (ctx.done()) co_return IoResult{0, ctx.err()};
  detail::AwaitSite site(where);
  auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(data.data(), data.size()),
                                            asio::bind_cancellation_slot(cancellation.slot(), as_tuple));
  bytes_written_ += n;
  co_return IoResult{n, outcome(ec, ctx)};
}

}  // namespace spindle::tcp
