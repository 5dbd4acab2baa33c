// tcp::Conn over real loopback sockets accepted by a tcp::Listener (which sets TCP_INQ on
// them, as in production).
#include <atomic>
#include <future>
#include <optional>
#include <string>

#include "spindle/spindle.hpp"
#include "spindle/tcp/listener.hpp"
#include "support/spindle_test.hpp"
#include "support/tcp_client.hpp"

TEST_SUITE_BEGIN("server");

using namespace spindle;
using namespace std::chrono_literals;
using test::TcpClient;

namespace {

/// What the connection's fiber saw after each of its reads.
struct Read {
  tcp::IoResult result;
  std::optional<std::size_t> queued;
};

/// Parks the fiber until `flag` reaches `step` (the client thread's progress).
Task<void> wait_for(const Context& ctx, const std::atomic<int>& flag, int step) {
  while (flag.load() < step) co_await sleep(ctx, 1ms);
}

}  // namespace

#ifdef SPINDLE_DRAIN_AWARE_RECEIVE
SPINDLE_TEST("Conn::queued_after_read: what the kernel still holds after a read, a pending FIN as one") {
  Scheduler sched({.threads = 1});
  std::atomic<int> client_step{0};  // 1: 100 bytes sent; 2: 3 more and the FIN sent
  std::promise<void> first_part_read, all_read;
  Read partial, rest, tried, last, end;
  tcp::Listener listener(sched, {.name = "conn-test", .endpoint = {asio::ip::make_address("127.0.0.1"), 0}},
                         [&](Context ctx, tcp::Conn conn) -> Task<void> {
                           char buf[200];
                           co_await wait_for(ctx, client_step, 1);
                           co_await conn.read_some_into(ctx, {buf, 10}, partial.result);
                           partial.queued = conn.queued_after_read();
                           co_await conn.read_some_into(ctx, buf, rest.result);
                           rest.queued = conn.queued_after_read();
                           tried.result = conn.try_read(buf);
                           tried.queued = conn.queued_after_read();
                           first_part_read.set_value();
                           co_await wait_for(ctx, client_step, 2);
                           co_await conn.read_some_into(ctx, buf, last.result);
                           last.queued = conn.queued_after_read();
                           co_await conn.read_some_into(ctx, buf, end.result);
                           end.queued = conn.queued_after_read();
                           all_read.set_value();
                         });
  sched.start();
  listener.start(sched.context());

  TcpClient client(listener.local_endpoint().port());
  client.send_all(std::string(100, 'a'));  // on loopback, queued at the server on return
  client_step = 1;
  REQUIRE(first_part_read.get_future().wait_for(10s) == std::future_status::ready);
  client.send_all("abc");
  client.shutdown_write();
  client_step = 2;
  REQUIRE(all_read.get_future().wait_for(10s) == std::future_status::ready);

  CHECK(partial.result.bytes == 10);
  CHECK(partial.queued == 90u);
  CHECK(rest.result.bytes == 90);
  CHECK(rest.queued == 0u);  // emptied: the next read waits for readiness at once
  CHECK(tried.result.error == asio::error::would_block);
  CHECK(!tried.queued);  // try_read does not learn the count: unknown, not a stale 0
  CHECK(last.result.bytes == 3);
  CHECK(last.queued == 1u);  // the FIN behind the data: the next read will not wait
  CHECK(end.result.error == asio::error::eof);
  CHECK(end.queued == 0u);

  listener.stop_accepting();
  CHECK(listener.wait_for_connections(std::chrono::steady_clock::now() + 10s));
  CHECK(sched.shutdown(1s).empty());
}
#endif
