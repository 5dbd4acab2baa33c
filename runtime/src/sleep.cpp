#include "spindle/sleep.hpp"

#include <asio/bind_cancellation_slot.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <stdexcept>

#include "spindle/detail/op_cancellation.hpp"
#include "spindle/detail/worker.hpp"

namespace spindle {

Task<std::error_code> sleep(Context ctx, Clock::duration duration, std::source_location where) {
  return sleep_until(std::move(ctx), Clock::now() + duration, where);
}

Task<std::error_code> sleep_until(Context ctx, TimePoint deadline, std::source_location where) {
  asio::io_context* io = detail::current_io();
  if (!io) throw std::logic_error("spindle::sleep must run in a fiber");
  asio::steady_timer timer(*io, deadline);
  detail::OpCancellation cancellation(ctx);
  if (ctx.done()) co_return ctx.err();
  detail::AwaitSite site(where);
  auto [ec] = co_await timer.async_wait(asio::bind_cancellation_slot(
      cancellation.slot(), asio::experimental::as_tuple(asio::use_awaitable)));
  if (ec && ctx.done()) co_return ctx.err();
  co_return ec;
}

}  // namespace spindle
