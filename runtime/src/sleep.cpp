#include "spindle/sleep.hpp"

#include <asio/steady_timer.hpp>
#include <stdexcept>

#include "spindle/detail/asio_await.hpp"
#include "spindle/detail/worker.hpp"

namespace spindle {

Task<std::error_code> sleep(Context ctx, Clock::duration duration, std::source_location where) {
  return sleep_until(std::move(ctx), Clock::now() + duration, where);
}

Task<std::error_code> sleep_until(Context ctx, TimePoint deadline, std::source_location where) {
  asio::io_context* io = detail::current_io();
  if (!io) throw std::logic_error("spindle::sleep must run in a fiber");
  asio::steady_timer timer(*io, deadline);
  std::error_code ec;
  co_await detail::await_asio(
      ctx, where, [&ec](std::error_code e) { ec = e; },
      [&timer](auto handler) { timer.async_wait(std::move(handler)); });
  co_return ec;
}

}  // namespace spindle
