// spindle::async: any Asio operation awaited from a fiber, its results as a tuple, and the
// context reaching into it (cancel, deadline, already done).
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>
#include <atomic>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include "spindle/spindle.hpp"
#include "support/spindle_test.hpp"

TEST_SUITE_BEGIN("runtime");

using namespace spindle;
using namespace std::chrono_literals;
using asio::ip::tcp;

namespace {

/// Waits on a timer of `duration` through spindle::async; returns the error and how long it took.
Task<std::pair<std::error_code, Clock::duration>> timer_wait(const Context& ctx, Clock::duration duration) {
  asio::steady_timer timer(this_io_context(), duration);
  const auto start = Clock::now();
  auto [ec] = co_await async(ctx, [&](auto handler) { timer.async_wait(std::move(handler)); });
  co_return std::pair{ec, Clock::now() - start};
}

}  // namespace

SPINDLE_TEST("async awaits an Asio timer, and its context's cancel or deadline aborts it") {
  Scheduler sched({.threads = 2});
  sched.block_on([](Context ctx) -> Task<> {
    auto [ok, took] = co_await timer_wait(ctx, 20ms);
    CHECK(!ok);
    CHECK(took >= 20ms);

    auto [timeout_ctx, done] = with_timeout(ctx, 20ms);
    auto [late, waited] = co_await timer_wait(timeout_ctx, 1h);
    CHECK(late == Errc::deadline_exceeded);
    CHECK(waited < 10s);

    // Cancelled from another fiber, on another thread, while the timer is pending.
    auto [cancel_ctx, cancel] = with_cancel(ctx);
    auto canceller = go({ctx, "canceller", Placement::spread}, [cancel = cancel](Context c) -> Task<> {
      co_await sleep(c, 10ms);
      cancel();
    });
    auto [canceled, _] = co_await timer_wait(cancel_ctx, 1h);
    CHECK(canceled == Errc::canceled);
    co_await canceller.join(ctx);

    int started = 0;  // with its context already done, the operation is not started
    auto [not_started] = co_await async(cancel_ctx, [&](auto) { ++started; });
    CHECK(not_started == Errc::canceled);
    CHECK(started == 0);
  });
  CHECK(sched.shutdown(1s).empty());
}

SPINDLE_TEST("a cancel from another thread that lands as the operation ends does not abort the next one") {
  // The binding of a context to an operation is recycled per thread: the next operation on
  // the worker usually gets the one the last operation used. A cancel from another thread is
  // posted to the worker; racing it against the end of a short operation, the emit sometimes
  // runs after that operation ended, and must then not abort the next, uncancelled one.
  constexpr int rounds = 2000;
  std::atomic<int> turn{-1};       // the round whose cancel function is ready
  std::atomic<int> cancelled{-1};  // the last round the canceller thread has cancelled
  std::optional<CancelFunc> cancel_of_round;
  std::thread canceller([&] {
    for (int round = 0; round < rounds; ++round) {
      while (turn.load(std::memory_order_acquire) != round) std::this_thread::yield();
      (*cancel_of_round)();
      cancelled.store(round, std::memory_order_release);
    }
  });
  int aborted = 0;
  Scheduler sched({.threads = 1});
  sched.block_on([&](Context ctx) -> Task<> {
    asio::steady_timer ends_now(this_io_context());
    asio::steady_timer next(this_io_context());
    for (int round = 0; round < rounds; ++round) {
      auto [round_ctx, cancel] = with_cancel(ctx);
      cancel_of_round = cancel;
      turn.store(round, std::memory_order_release);
      ends_now.expires_after(0s);
      co_await async(round_ctx, [&](auto handler) { ends_now.async_wait(std::move(handler)); });
      // A cancellable context of its own, so that this operation is bound to one too.
      const Context next_ctx = with_cancel(ctx).ctx;
      next.expires_after(100us);
      auto [ec] = co_await async(next_ctx, [&](auto handler) { next.async_wait(std::move(handler)); });
      if (ec) ++aborted;
      while (cancelled.load(std::memory_order_acquire) != round) std::this_thread::yield();
    }
  });
  canceller.join();
  CHECK(aborted == 0);
  CHECK(sched.shutdown(1s).empty());
}

SPINDLE_TEST("async yields an operation's results: accept, connect, write and read over loopback") {
  Scheduler sched({.threads = 2});
  const std::string got = sched.block_on([](Context ctx) -> Task<std::string> {
    tcp::acceptor acceptor(this_io_context(), {asio::ip::address_v4::loopback(), 0});
    tcp::socket client(this_io_context()), server(this_io_context());
    auto sent = go(ctx, [&client, port = acceptor.local_endpoint().port()](Context c) -> Task<std::error_code> {
      auto [ec] = co_await async(c, [&](auto h) { client.async_connect({asio::ip::address_v4::loopback(), port}, std::move(h)); });
      if (ec) co_return ec;
      auto [write_ec, n] = co_await async<std::size_t>(
          c, [&](auto h) { asio::async_write(client, asio::buffer(std::string_view("ping")), std::move(h)); });
      CHECK(n == 4);
      co_return write_ec;
    });
    auto [accept_ec] = co_await async(ctx, [&](auto h) { acceptor.async_accept(server, std::move(h)); });
    REQUIRE(!accept_ec);
    std::string buf(16, '\0');
    auto [read_ec, n] = co_await async<std::size_t>(
        ctx, [&](auto h) { server.async_read_some(asio::buffer(buf), std::move(h)); });
    CHECK(!read_ec);
    CHECK(!co_await sent.join(ctx));
    co_return buf.substr(0, n);
  });
  CHECK(got == "ping");
  CHECK_THROWS_AS(this_io_context(), std::logic_error);  // not on a worker
  CHECK(sched.shutdown(1s).empty());
}

TEST_SUITE_END();
