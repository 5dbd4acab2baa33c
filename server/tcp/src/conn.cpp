#include "spindle/tcp/conn.hpp"

namespace spindle::tcp {

std::string to_string(const asio::ip::tcp::endpoint& endpoint) {
  const auto address = endpoint.address();
  const std::string host = address.to_string();
  return (address.is_v6() ? "[" + host + "]" : host) + ":" + std::to_string(endpoint.port());
}

Conn::Conn(Socket socket, std::shared_ptr<ConnObserver> observer)
    : socket_(std::move(socket)),
#ifdef SPINDLE_DRAIN_AWARE_RECEIVE
      reactor_(&asio::use_service<asio::detail::reactor>(
          static_cast<asio::execution_context&>(socket_.get_executor().context()))),
#endif
      opened_(std::chrono::steady_clock::now()),
      observer_(std::move(observer)) {
  asio::error_code ec;
  auto remote = socket_.remote_endpoint(ec);
  peer_ = ec ? "?" : to_string(remote);
  socket_.non_blocking(true, ec);
}

Conn::~Conn() {
  close();
  if (observer_) observer_->closed(*this);
}

void Conn::close() noexcept {
  asio::error_code ignored;
  if (socket_.is_open()) socket_.close(ignored);
}

void Conn::shutdown_send() noexcept {
  asio::error_code ignored;
  socket_.shutdown(Socket::shutdown_send, ignored);
}

IoResult Conn::try_read(std::span<char> buf) {
  asio::error_code ec;
  const std::size_t n = socket_.read_some(asio::buffer(buf.data(), buf.size()), ec);
  bytes_read_ += n;
  queued_after_read_ = -1;
  return {n, ec};
}

IoResult Conn::try_write(std::span<const char> data) {
  asio::error_code ec;
  const std::size_t n = socket_.write_some(asio::buffer(data.data(), data.size()), ec);
  bytes_written_ += n;
  return {n, ec};
}

Task<std::error_code> Conn::wait_readable(Context ctx, std::source_location where) {
  std::error_code ec;
  co_await wait_readable_into(ctx, ec, where);
  co_return ec;
}

Task<IoResult> Conn::read_some(Context ctx, std::span<char> buf, std::source_location where) {
  IoResult out;
  co_await read_some_into(ctx, buf, out, where);
  co_return out;
}

Task<IoResult> Conn::read_exact(Context ctx, std::span<char> buf, std::source_location where) {
  IoResult out;
  co_await detail::await_asio(
      ctx, where,
      [this, &out](std::error_code ec, std::size_t n = 0) {
        bytes_read_ += n;
        queued_after_read_ = -1;
        out = {n, ec};
      },
      [this, buf](auto handler) {
        asio::async_read(socket_, asio::buffer(buf.data(), buf.size()), std::move(handler));
      });
  co_return out;
}

Task<IoResult> Conn::write_all(Context ctx, std::span<const char> data, std::source_location where) {
  IoResult out;
  co_await write_all_into(ctx, data, out, where);
  co_return out;
}

}  // namespace spindle::tcp
