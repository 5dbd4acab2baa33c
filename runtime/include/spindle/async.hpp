// Awaiting any Asio operation from a fiber, aborted by a Context like spindle's own waits.
#pragma once

#include <asio/io_context.hpp>
#include <coroutine>
#include <source_location>
#include <system_error>
#include <tuple>
#include <utility>

#include "spindle/context.hpp"
#include "spindle/detail/asio_await.hpp"

namespace spindle {

/// The io_context of the worker thread the calling fiber runs on: create the Asio objects a
/// fiber uses (timers, sockets, resolvers) on it, so their completions resume the fiber on
/// its own thread. Throws std::logic_error outside a scheduler worker.
asio::io_context& this_io_context();

namespace detail {

/// What async() returns; see there. Not movable: the operation writes its results into it.
template <class Initiate, class... Results>
class AsyncAwait {
 public:
  using Result = std::tuple<std::error_code, Results...>;

  AsyncAwait(const Context& ctx, Initiate initiate, std::source_location where)
      : inner_(ctx, where, Deliver{&result_}, std::move(initiate)) {}
  AsyncAwait(const AsyncAwait&) = delete;
  AsyncAwait& operator=(const AsyncAwait&) = delete;

  bool await_ready() { return inner_.await_ready(); }
  void await_suspend(std::coroutine_handle<> waiter) { inner_.await_suspend(waiter); }
  Result await_resume() { return std::move(result_); }

 private:
  struct Deliver {
    Result* out;
    void operator()(std::error_code ec) const { std::get<0>(*out) = ec; }  // ctx was done first
    template <class... Args>
    void operator()(std::error_code ec, Args&&... args) const {
      *out = Result(ec, std::forward<Args>(args)...);
    }
  };
  Result result_{};
  AsioAwait<Deliver, Initiate> inner_;
};

}  // namespace detail

/// Awaits one Asio operation, started by `initiate(handler)` once the fiber is suspended,
/// and yields its completion's arguments as a tuple: the error code first, then `Results`,
/// which must be default-constructible (they stay so when the operation does not run).
/// Cancelling `ctx` aborts the operation itself; its error is then ctx.err()
/// (Errc::canceled, Errc::deadline_exceeded), and if ctx is already done the operation is not
/// started. Start the operation on an object created on this_io_context().
///
///     asio::steady_timer timer(spindle::this_io_context(), 50ms);
///     auto [ec] = co_await spindle::async(ctx, [&](auto h) { timer.async_wait(std::move(h)); });
///     auto [ec, n] = co_await spindle::async<std::size_t>(
///         ctx, [&](auto h) { socket.async_read_some(asio::buffer(buf), std::move(h)); });
///
/// Like spindle's other awaits it borrows `ctx`: await it in the expression that made it.
/// Throws std::logic_error outside a fiber.
template <class... Results, class Initiate>
detail::AsyncAwait<Initiate, Results...> async(const Context& ctx, Initiate initiate,
                                               std::source_location where = std::source_location::current()) {
  return {ctx, std::move(initiate), where};
}

}  // namespace spindle
