// spindle-server as a child process: configuration sources, exit codes, signals, logs.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>

#include "support/spindle_test.hpp"
#include "support/http_client.hpp"
#include "support/process_stats.hpp"
#include "support/subprocess.hpp"
#include "support/tcp_client.hpp"

TEST_SUITE_BEGIN("server");

using namespace std::chrono_literals;
using spindle::test::cpu_ticks;
using spindle::test::Subprocess;
using spindle::test::TcpClient;

namespace {

const std::string server_bin = SPINDLE_SERVER_BIN;
// Every server started here listens on free loopback ports only.
const std::string any_http = "--http=127.0.0.1:0";

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

/// Starts spindle-server with `args` and waits until its echo service listens; returns the port.
std::uint16_t start_and_wait(Subprocess& p) {
  REQUIRE(p.wait_for_output("echo listening on 127.0.0.1:", 10s));
  std::smatch m;
  const std::string err = p.err();
  REQUIRE(std::regex_search(err, m, std::regex("echo listening on 127\\.0\\.0\\.1:([0-9]+)")));
  return static_cast<std::uint16_t>(std::stoi(m[1]));
}

/// A socket that holds a port, so the server cannot bind it.
struct PortHolder {
  PortHolder() {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(fd, 16);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    port = ntohs(addr.sin_port);
  }
  ~PortHolder() { ::close(fd); }
  int fd;
  std::uint16_t port;
};

}  // namespace

SPINDLE_TEST("--print-config shows each value with its source: file < env < flags") {
  const std::string file = "/tmp/spindle-process-test-" + std::to_string(::getpid()) + ".toml";
  {
    std::ofstream out(file);
    out << "threads = 3\n[echo]\nidle_timeout = \"30s\"\nlisten = \"127.0.0.1:1111\"\n";
  }
  auto r = spindle::test::run({server_bin, "--config", file, "--echo", "127.0.0.1:3333", "--print-config"},
                              {{"SPINDLE_ECHO", "127.0.0.1:2222"}, {"SPINDLE_THREADS", "2"}});
  std::remove(file.c_str());
  CHECK(r.code == 0);
  CHECK(has(r.output, "listen = \"127.0.0.1:3333\"  # flag --echo"));
  CHECK(has(r.output, "threads = 2  # environment SPINDLE_THREADS"));
  CHECK(has(r.output, "idle_timeout = \"30s\"  # file " + file));
  CHECK(has(r.output, "max_connections = 10000  # default"));
}

SPINDLE_TEST("bad configuration: one clear message and exit code 2, nothing bound") {
  PortHolder probe;  // a free port number we know nothing else uses
  const std::string port = std::to_string(probe.port);
  ::close(probe.fd);
  probe.fd = ::socket(AF_INET, SOCK_STREAM, 0);
  auto r = spindle::test::run({server_bin, any_http, "--echo", "127.0.0.1:" + port, "--shutdown-grace", "ten"});
  CHECK(r.code == 2);
  CHECK(has(r.output, "config error: shutdown_grace from flag --shutdown-grace"));
  CHECK_FALSE(spindle::test::can_connect(probe.port, 200ms));
  auto env = spindle::test::run({server_bin}, {{"SPINDLE_ECHO", "localhost"}});
  CHECK(env.code == 2);
  CHECK(has(env.output, "echo.listen from environment SPINDLE_ECHO"));
  auto help = spindle::test::run({server_bin, "--help"});
  CHECK(help.code == 0);
  CHECK(has(help.output, "SPINDLE_ECHO"));
}

SPINDLE_TEST("an address in use: a clear message and exit code 1") {
  PortHolder held;
  auto r = spindle::test::run({server_bin, any_http, "--echo", "127.0.0.1:" + std::to_string(held.port)});
  CHECK(r.code == 1);
  CHECK(has(r.output, "echo: cannot listen on 127.0.0.1:" + std::to_string(held.port)));
  CHECK(has(r.output, "Address already in use"));
}

SPINDLE_TEST("SIGTERM drains open connections, then cancels them; exit 0 and no leak") {
  Subprocess server({server_bin, any_http, "--echo", "127.0.0.1:0", "--threads", "2", "--shutdown-grace",
                     "600ms", "--log-level", "debug"});
  const auto port = start_and_wait(server);
  TcpClient a(port), b(port);
  a.send_all("1");
  CHECK(a.recv_exact(1) == "1");
  b.send_all("2");
  CHECK(b.recv_exact(1) == "2");
  const auto start = std::chrono::steady_clock::now();
  server.signal(SIGTERM);
  std::this_thread::sleep_for(150ms);
  a.send_all("3");  // still served during the grace period
  CHECK(a.recv_exact(1) == "3");
  b.shutdown_write();  // a client that finishes on its own gets its echo and a clean close
  CHECK(b.recv_until_eof().empty());
  CHECK(a.closed_by_peer(5s));  // the other one is cancelled when the grace runs out
  CHECK(server.wait(10s) == 0);
  CHECK(std::chrono::steady_clock::now() - start >= 600ms);
  const std::string log = server.err();
  CHECK(has(log, "shutting down gracefully"));
  CHECK(has(log, "cancelling 1 echo connection"));
  CHECK(has(log, "shutdown complete: every fiber ended"));
  // JSON lines (stderr is not a terminal), connection lines carry the fiber id.
  CHECK(std::regex_search(log, std::regex(R"(\{"time":"[0-9T:.-]+Z","level":"debug","fiber":[0-9]+,"msg":"echo connection from 127\.0\.0\.1:[0-9]+ opened"\})")));
  CHECK(has(log, "read 2 B, wrote 2 B"));  // a: "1" and "3"
}

SPINDLE_TEST("a second signal during the grace period exits at once with code 4") {
  Subprocess server({server_bin, any_http, "--echo", "127.0.0.1:0", "--shutdown-grace", "1m"});
  const auto port = start_and_wait(server);
  TcpClient held(port);
  held.send_all("x");
  CHECK(held.recv_exact(1) == "x");
  server.signal(SIGINT);
  REQUIRE(server.wait_for_output("shutting down gracefully", 5s));
  const auto start = std::chrono::steady_clock::now();
  server.signal(SIGTERM);
  CHECK(server.wait(5s) == 4);
  CHECK(std::chrono::steady_clock::now() - start < 3s);
}

SPINDLE_TEST("text logs for people: --log-format text") {
  Subprocess server({server_bin, any_http, "--echo", "127.0.0.1:0", "--log-format", "text"});
  start_and_wait(server);
  server.signal(SIGTERM);
  CHECK(server.wait(10s) == 0);
  CHECK(std::regex_search(server.err(), std::regex(R"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} info  echo listening on)")));
}

SPINDLE_TEST("out of file descriptors: accept backs off without spinning, and recovers") {
  // 64 descriptors: the server's own (epoll, eventfds, listeners, logs; more under sanitizers)
  // leave room for some connections; the rest wait in the backlog while accept fails.
  Subprocess server({"bash", "-c", "ulimit -n 64 && exec \"$0\" \"$@\"", server_bin, any_http, "--echo",
                     "127.0.0.1:0", "--threads", "1", "--echo-idle-timeout", "0",
                     "--shutdown-grace", "500ms"});
  const auto port = start_and_wait(server);
  TcpClient first(port);
  first.send_all("a");
  REQUIRE(first.recv_exact(1) == "a");  // accepted and served before the flood
  std::vector<TcpClient> clients;
  for (int i = 0; i < 100; ++i) clients.emplace_back(port);  // the kernel completes the handshakes
  REQUIRE(server.wait_for_output("accept failed: Too many open files", 5s));

  // Existing connections keep working while accept fails.
  first.send_all("still");
  CHECK(first.recv_exact(5) == "still");

  // Backing off, not spinning: well under half a core while the backlog stays full.
  const long before = cpu_ticks(server.pid());
  std::this_thread::sleep_for(1s);
  const long used = cpu_ticks(server.pid()) - before;
  CHECK(used < ::sysconf(_SC_CLK_TCK) / 2);

  // Free descriptors: the waiting connections get served.
  clients.erase(clients.begin(), clients.begin() + 60);
  int served = 0;
  for (auto& c : clients) {
    c.send_all("x");
    try {
      served += c.recv_exact(1) == "x";
    } catch (const std::exception&) {
    }
  }
  CHECK(served == static_cast<int>(clients.size()));
  // Reported at a rate limit, not once per failure.
  const std::string log = server.err();
  std::size_t reports = 0;
  for (auto at = log.find("accept failed"); at != std::string::npos; at = log.find("accept failed", at + 1)) ++reports;
  CHECK(reports < 10);
  server.signal(SIGTERM);
  CHECK(server.wait(10s) == 0);
}

SPINDLE_TEST("SIGTERM drains HTTP: an in-flight /delay finishes while /readyz answers 503") {
  Subprocess server({server_bin, "--http", "127.0.0.1:0", "--echo-enabled", "false",
                     "--shutdown-grace", "5s", "--log-format", "json"});
  REQUIRE(server.wait_for_output("http listening on 127.0.0.1:", 10s));
  std::smatch m;
  const std::string err = server.err();
  REQUIRE(std::regex_search(err, m, std::regex("http listening on 127\\.0\\.0\\.1:([0-9]+)")));
  const auto port = static_cast<std::uint16_t>(std::stoi(m[1]));
  CHECK(spindle::test::http_exchange(port, "GET /readyz HTTP/1.1\r\nHost: t\r\n\r\n").status == 200);

  TcpClient slow(port);
  slow.send_all("GET /delay?ms=1500 HTTP/1.1\r\nHost: t\r\n\r\n");
  std::this_thread::sleep_for(200ms);
  server.signal(SIGTERM);
  std::this_thread::sleep_for(200ms);
  auto ready = spindle::test::http_exchange(port, "GET /readyz HTTP/1.1\r\nHost: t\r\n\r\n");
  CHECK(ready.status == 503);
  CHECK(ready.header("connection") == "close");
  std::string buf;
  auto done = spindle::test::read_response(slow, buf);
  CHECK(done.status == 200);
  CHECK(done.body == "done\n");
  CHECK(done.header("connection") == "close");
  CHECK(server.wait(10s) == 0);
  const std::string log = server.err();
  CHECK(has(log, "shutdown complete: every fiber ended"));
  // The access log as JSON lines with their fields.
  CHECK(std::regex_search(log, std::regex(R"(\{"time":"[^"]+","level":"info","fiber":[0-9]+,"msg":"GET /delay 200 5B [0-9.]+ms id=[0-9a-f]+","method":"GET","path":"/delay","status":200,"bytes":5,"duration_ms":[0-9.]+,"request_id":"[0-9a-f]+","peer":"127\.0\.0\.1:[0-9]+"\})")));
}

TEST_SUITE_END();
