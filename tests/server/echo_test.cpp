// The echo service over real loopback sockets, with the server in this process.
#include <chrono>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "spindle/server/server.hpp"
#include "support/spindle_test.hpp"
#include "support/tcp_client.hpp"

TEST_SUITE_BEGIN("server");

using namespace spindle;
using namespace std::chrono_literals;
using test::TcpClient;

namespace {

config::ServerConfig echo_config() {
  config::ServerConfig c;
  c.threads = 2;
  c.echo.listen = {"127.0.0.1", 0};
  c.http.enabled = false;
  c.shutdown_grace = 1s;
  return c;
}

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& ch : s) ch = static_cast<char>(rng());
  return s;
}

/// Sends `data` on one thread while reading the echo on this one (a large payload would
/// otherwise fill both directions' buffers and stall).
std::string round_trip(TcpClient& client, const std::string& data) {
  std::thread sender([&] { client.send_all(data); });
  std::string echoed;
  try {
    echoed = client.recv_exact(data.size());
  } catch (...) {
    sender.join();
    throw;
  }
  sender.join();
  return echoed;
}

}  // namespace

SPINDLE_TEST("echo returns every byte exactly, from 1 B to 4 MiB of binary data") {
  server::Server srv(echo_config());
  srv.start();
  const auto port = srv.echo_endpoint()->port();
  for (std::size_t size : {std::size_t{1}, std::size_t{96}, std::size_t{100}, std::size_t{4096}, std::size_t{16 * 1024 + 7},
                           std::size_t{1} << 20, std::size_t{4} << 20}) {
    CAPTURE(size);
    TcpClient client(port);
    const std::string data = random_bytes(size, static_cast<unsigned>(size));
    CHECK(round_trip(client, data) == data);
  }
  CHECK(srv.shutdown().empty());
}

SPINDLE_TEST("1,000 concurrent connections each doing round trips") {
  test::raise_fd_limit();
  server::Server srv(echo_config());
  srv.start();
  const auto port = srv.echo_endpoint()->port();
  std::vector<TcpClient> clients;
  clients.reserve(1000);
  for (int i = 0; i < 1000; ++i) clients.emplace_back(port);
  for (int round = 0; round < 10; ++round) {
    for (std::size_t i = 0; i < clients.size(); ++i)
      clients[i].send_all("msg " + std::to_string(i) + " round " + std::to_string(round) + ";");
    int ok = 0;
    for (std::size_t i = 0; i < clients.size(); ++i) {
      const std::string expect = "msg " + std::to_string(i) + " round " + std::to_string(round) + ";";
      ok += clients[i].recv_exact(expect.size()) == expect;
    }
    CHECK(ok == 1000);
  }
  CHECK(srv.shutdown().empty());
}

SPINDLE_TEST("half-close: what was sent comes back, then the server closes") {
  server::Server srv(echo_config());
  srv.start();
  TcpClient client(srv.echo_endpoint()->port());
  const std::string data = random_bytes(200'000, 7);
  client.send_all(data);
  client.shutdown_write();
  CHECK(client.recv_until_eof() == data);
  CHECK(srv.shutdown().empty());
}

// A read that empties the socket lets the next one wait for readiness without trying (see
// tcp/detail/drain_aware_receive.hpp). An end of stream arriving with the last data leaves no
// readiness edge behind it: the server must still see it at once, not at the idle timeout.
SPINDLE_TEST("a message and the FIN right behind it are echoed, then the server closes at once") {
  auto cfg = echo_config();
  cfg.echo.idle_timeout = 60s;
  server::Server srv(cfg);
  srv.start();
  const auto port = srv.echo_endpoint()->port();
  for (int i = 0; i < 100; ++i) {
    CAPTURE(i);
    TcpClient client(port, "127.0.0.1", 5s);
    client.send_all("first");  // the server reads it, drains the socket and waits again
    REQUIRE(client.recv_exact(5) == "first");
    // Shorter and longer than the 96 bytes the server first reads into.
    const std::string last(static_cast<std::size_t>(i % 3 ? i % 7 + 1 : 1000 + i), 'x');
    client.send_all(last);
    if (i % 2) std::this_thread::sleep_for(1ms);  // FIN with the data, or just behind it
    client.shutdown_write();
    CHECK(client.recv_until_eof() == last);
  }
  CHECK(srv.shutdown().empty());
}

SPINDLE_TEST("the idle timeout closes silent connections and spares busy ones") {
  auto cfg = echo_config();
  cfg.echo.idle_timeout = 300ms;
  server::Server srv(cfg);
  srv.start();
  const auto port = srv.echo_endpoint()->port();
  TcpClient silent(port), busy(port);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 6; ++i) {  // busy talks every 100ms, for 600ms in all
    busy.send_all("ping");
    CHECK(busy.recv_exact(4) == "ping");
    std::this_thread::sleep_for(100ms);
  }
  CHECK(silent.closed_by_peer(2s));
  CHECK(std::chrono::steady_clock::now() - start >= 300ms);
  busy.send_all("still here");
  CHECK(busy.recv_exact(10) == "still here");
  CHECK(srv.shutdown().empty());
}

SPINDLE_TEST("max connections: above it a connection is accepted and closed at once") {
  auto cfg = echo_config();
  cfg.echo.max_connections = 5;
  server::Server srv(cfg);
  srv.start();
  const auto port = srv.echo_endpoint()->port();
  std::vector<TcpClient> open;
  for (int i = 0; i < 5; ++i) {
    open.emplace_back(port);
    open.back().send_all("x");
    CHECK(open.back().recv_exact(1) == "x");  // accepted and served
  }
  TcpClient extra(port);
  CHECK(extra.closed_by_peer(2s));
  open.pop_back();  // one leaves; a new one is served again
  std::this_thread::sleep_for(50ms);
  TcpClient next(port);
  next.send_all("y");
  CHECK(next.recv_exact(1) == "y");
  CHECK(srv.shutdown().empty());
}

SPINDLE_TEST("shutdown drains: connections get the grace period, then are cancelled") {
  auto cfg = echo_config();
  cfg.shutdown_grace = 400ms;
  server::Server srv(cfg);
  srv.start();
  const auto port = srv.echo_endpoint()->port();
  TcpClient lingering(port);
  lingering.send_all("a");
  CHECK(lingering.recv_exact(1) == "a");
  CHECK(srv.ready());

  std::vector<FiberInfo> leaks{FiberInfo{}};
  const auto start = std::chrono::steady_clock::now();
  std::thread stopper([&] { leaks = srv.shutdown(); });
  std::this_thread::sleep_for(100ms);
  CHECK_FALSE(srv.ready());
  CHECK_FALSE(test::can_connect(port, 500ms));  // no longer accepting
  lingering.send_all("b");                       // still served during the grace period
  CHECK(lingering.recv_exact(1) == "b");
  CHECK(lingering.closed_by_peer(3s));           // cancelled once the grace ran out
  stopper.join();
  CHECK(std::chrono::steady_clock::now() - start >= 400ms);
  CHECK(leaks.empty());
}

SPINDLE_TEST("an address already in use is a BindError naming the service and address") {
  // Both accept modes: with SO_REUSEPORT on both sides the kernel would let them share it.
  for (auto mode : {config::AcceptMode::reuseport, config::AcceptMode::shared}) {
    CAPTURE(static_cast<int>(mode));
    auto cfg = echo_config();
    cfg.accept_mode = mode;
    server::Server first(cfg);
    first.start();
    cfg.echo.listen.port = first.echo_endpoint()->port();
    server::Server second(cfg);
    try {
      second.start();
      FAIL("bound twice");
    } catch (const tcp::BindError& e) {
      const std::string what = e.what();
      CHECK(what.find("echo: cannot listen on 127.0.0.1:") != std::string::npos);
      CHECK(what.find("in use") != std::string::npos);
    }
    CHECK(first.shutdown().empty());
    CHECK(second.shutdown().empty());
  }
}

SPINDLE_TEST("IPv6: the echo service listens on [::1]") {
  auto cfg = echo_config();
  cfg.echo.listen = {"::1", 0};
  server::Server srv(cfg);
  srv.start();
  CHECK(srv.echo_endpoint()->address().is_v6());
  TcpClient client(srv.echo_endpoint()->port(), "::1");
  client.send_all("over v6");
  CHECK(client.recv_exact(7) == "over v6");
  CHECK(srv.shutdown().empty());
}

SPINDLE_TEST("both accept modes serve connections on every worker") {
  for (auto mode : {config::AcceptMode::reuseport, config::AcceptMode::shared}) {
    auto cfg = echo_config();
    cfg.accept_mode = mode;
    server::Server srv(cfg);
    srv.start();
    std::vector<TcpClient> clients;
    for (int i = 0; i < 20; ++i) clients.emplace_back(srv.echo_endpoint()->port());
    for (auto& c : clients) {
      c.send_all("hi");
      CHECK(c.recv_exact(2) == "hi");
    }
    CHECK(srv.shutdown().empty());
  }
}

TEST_SUITE_END();
