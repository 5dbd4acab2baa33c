// The HTTP/1.1 service over real loopback sockets: curl for what it can send, raw sockets for
// the rest — keep-alive, chunked in and out, pipelining, 100-continue, HEAD, every limit,
// every timeout, request contexts, router and middleware.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <unistd.h>
#include <memory>
#include <string>
#include <thread>

#include "spindle/handlers/http_demo.hpp"
#include "spindle/http/service.hpp"
#include "spindle/scheduler.hpp"
#include "spindle/sleep.hpp"
#include "spindle/tcp/listener.hpp"
#include "support/http_client.hpp"
#include "support/log_capture.hpp"
#include "support/spindle_test.hpp"
#include "support/subprocess.hpp"

TEST_SUITE_BEGIN("http");

using namespace spindle;
using namespace std::chrono_literals;
using test::HttpResponse;
using test::read_response;
using test::TcpClient;

namespace {

/// An HTTP service with the demo routes plus test routes, on a free loopback port.
struct TestServer {
  explicit TestServer(http::ServiceOptions options = {}, std::function<void(http::Router&)> extra = {}) {
    http::Router router;
    handlers::add_demo_routes(router, handlers::DemoProbes{[this] { return !draining; }, {},
                                                          [this] { return &service->metrics(); }});
    router.get("/ctx", [this](Context ctx, http::Request&) -> Task<http::Response> {
      started = true;
      const auto err = co_await ctx.wait();  // until the request's context ends
      observed = err.value();
      co_return http::Response::text(200, "ended\n");
    });
    router.get("/users/{id}", [](Context, http::Request& req) -> Task<http::Response> {
      co_return http::Response::text(200, "user " + std::string(req.param("id")) + "\n");
    });
    router.get("/boom", [](Context, http::Request&) -> Task<http::Response> {
      throw std::runtime_error("handler bug");
      co_return http::Response::text(200, "");
    });
    router.post("/all", [](Context ctx, http::Request& req) -> Task<http::Response> {
      co_return http::Response::text(200, co_await req.body().read_all(ctx));
    });
    router.get("/stream", [](Context, http::Request&) -> Task<http::Response> {
      co_return http::Response::streamed(200, "text/plain", [](Context c, http::ResponseWriter& w) -> Task<void> {
        for (int i = 0; i < 3; ++i) co_await w.write(c, std::string_view("part "));
      });
    });
    if (extra) extra(router);
    service = std::make_unique<http::Service>(std::move(router), options);
    listener = std::make_unique<tcp::Listener>(
        sched, tcp::ListenerOptions{"http", {asio::ip::make_address("127.0.0.1"), 0}, true, 1000},
        [s = service.get()](Context ctx, tcp::Conn conn) { return s->serve(std::move(ctx), std::move(conn)); });
    sched.start();
    service->start(sched.context());
    listener->start(sched.context());
    port = listener->local_endpoint().port();
  }
  ~TestServer() { stop(); }
  void stop() {
    if (stopped) return;
    stopped = true;
    service->drain();
    listener->stop_accepting();
    listener->wait_for_connections(std::chrono::steady_clock::now() + 2s);
    listener->cancel_connections();
    CHECK(sched.shutdown(2s).empty());
    listener.reset();
  }
  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port) + path; }

  Scheduler sched{{.threads = 2}};
  std::unique_ptr<http::Service> service;
  std::unique_ptr<tcp::Listener> listener;
  std::uint16_t port = 0;
  std::atomic<bool> draining{false};
  std::atomic<bool> started{false};
  std::atomic<int> observed{0};  // the Errc the /ctx handler saw its context end with
  bool stopped = false;
};

std::string curl(std::vector<std::string> args) {
  args.insert(args.begin(), {"curl", "-sS", "--max-time", "10"});
  auto r = test::run(args);
  REQUIRE(r.code == 0);
  return r.output;
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

const std::string get_root = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";

}  // namespace

SPINDLE_TEST("curl: GET / answers Hello, World! with Date, Server, Content-Length, request id") {
  TestServer s;
  const std::string out = curl({"-i", s.url("/")});
  CHECK(has(out, "HTTP/1.1 200 OK\r\n"));
  CHECK(has(out, "Content-Type: text/plain; charset=utf-8\r\n"));
  CHECK(has(out, "Content-Length: 13\r\n"));
  CHECK(has(out, "Server: spindle\r\n"));
  CHECK(has(out, "Date: "));
  CHECK(has(out, "X-Request-Id: "));
  CHECK(out.ends_with("\r\n\r\nHello, World!"));
  CHECK(has(curl({"-i", "-H", "X-Request-Id: trace-42", s.url("/")}), "X-Request-Id: trace-42\r\n"));
}

SPINDLE_TEST("curl: POST /echo with Content-Length and with chunked bodies, including 100-continue") {
  TestServer s;
  CHECK(curl({"--data-binary", "hello there", s.url("/echo")}) == "hello there");
  const std::string big(300'000, 'x');
  const std::string file = "/tmp/spindle-http-body-" + std::to_string(::getpid());
  { std::ofstream(file) << big; }
  // curl sends Expect: 100-continue for a body this size; chunked with the header below.
  CHECK(curl({"--data-binary", "@" + file, s.url("/echo")}) == big);
  CHECK(curl({"-H", "Transfer-Encoding: chunked", "--data-binary", "@" + file, s.url("/echo")}) == big);
  std::remove(file.c_str());
}

SPINDLE_TEST("keep-alive: 1.1 by default, 1.0 only when asked; Connection: close is honoured") {
  TestServer s;
  {
    TcpClient c(s.port);
    std::string buf;
    for (int i = 0; i < 3; ++i) {
      c.send_all(get_root);
      CHECK(read_response(c, buf).body == "Hello, World!");
    }
    c.send_all("GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    auto last = read_response(c, buf);
    CHECK(last.header("connection") == "close");
    CHECK(c.closed_by_peer(2s));
  }
  {
    TcpClient c(s.port);
    std::string buf;
    c.send_all("GET / HTTP/1.0\r\n\r\n");
    auto r = read_response(c, buf);
    CHECK(r.status == 200);
    CHECK(r.header("connection") == "close");
    CHECK(c.closed_by_peer(2s));
  }
  {
    TcpClient c(s.port);
    std::string buf;
    c.send_all("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    CHECK(read_response(c, buf).header("connection") == "keep-alive");
    c.send_all("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    CHECK(read_response(c, buf).status == 200);
  }
}

// After an answer the connection waits for the next request without trying a read that the
// last one showed would find nothing; an end of stream that came in with that last request
// must still be seen at once (tcp/detail/drain_aware_receive.hpp).
SPINDLE_TEST("a client that half-closes behind its request gets the answer, then the server closes at once") {
  TestServer s;
  for (int i = 0; i < 50; ++i) {
    CAPTURE(i);
    TcpClient c(s.port);
    std::string buf;
    c.send_all(get_root);
    REQUIRE(read_response(c, buf).body == "Hello, World!");
    c.send_all(get_root);
    if (i % 2) std::this_thread::sleep_for(1ms);
    c.shutdown_write();
    CHECK(read_response(c, buf).body == "Hello, World!");
    CHECK(c.closed_by_peer(2s));
  }
}

SPINDLE_TEST("pipelining: responses come back in request order") {
  TestServer s;
  TcpClient c(s.port);
  c.send_all("GET /users/1 HTTP/1.1\r\nHost: t\r\n\r\n"
             "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"
             "GET /nowhere HTTP/1.1\r\nHost: t\r\n\r\n"
             "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
             "GET /users/2 HTTP/1.1\r\nHost: t\r\n\r\n");
  std::string buf;
  CHECK(read_response(c, buf).body == "user 1\n");
  CHECK(read_response(c, buf).body == "hello");
  CHECK(read_response(c, buf).status == 404);
  auto chunked = read_response(c, buf);
  CHECK(chunked.chunked);
  CHECK(chunked.body == "abc");
  CHECK(read_response(c, buf).body == "user 2\n");
}

SPINDLE_TEST("100-continue: sent when the handler reads the body; not at all if it does not") {
  TestServer s;
  {
    TcpClient c(s.port);
    std::string buf;
    c.send_all("POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
    auto interim = read_response(c, buf);
    CHECK(interim.status == 100);
    c.send_all("hello");
    auto r = read_response(c, buf);
    CHECK(r.status == 200);
    CHECK(r.body == "hello");
  }
  {
    // GET / does not read a body: no 100, the response, and the connection closes (no drain).
    TcpClient c(s.port);
    std::string buf;
    c.send_all("POST / HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 100000\r\n\r\n");
    auto r = read_response(c, buf);
    CHECK(r.status == 405);
    CHECK(r.header("connection") == "close");
    CHECK(c.closed_by_peer(2s));
  }
}

SPINDLE_TEST("HEAD: the GET route's headers, no body") {
  TestServer s;
  TcpClient c(s.port);
  std::string buf;
  c.send_all("HEAD / HTTP/1.1\r\nHost: t\r\n\r\n");
  auto r = read_response(c, buf, true);
  CHECK(r.status == 200);
  CHECK(r.header("content-length") == "13");
  c.send_all(get_root);  // nothing of a body was sent: the next response parses cleanly
  CHECK(read_response(c, buf).body == "Hello, World!");
}

SPINDLE_TEST("every limit answers with its status and closes") {
  http::ServiceOptions opt;
  opt.limits.max_request_line = 128;
  opt.limits.max_header_bytes = 1024;
  opt.limits.max_headers = 10;
  opt.limits.max_body = 1000;
  TestServer s(opt);
  auto status_and_closed = [&](const std::string& raw) {
    TcpClient c(s.port);
    c.send_all(raw);
    std::string buf;
    auto r = read_response(c, buf);
    CHECK(r.header("connection") == "close");
    CHECK(c.closed_by_peer(2s));
    return r.status;
  };
  CHECK(status_and_closed("GET /" + std::string(200, 'a') + " HTTP/1.1\r\nHost: t\r\n\r\n") == 414);
  CHECK(status_and_closed("GET / HTTP/1.1\r\nHost: t\r\nX: " + std::string(2000, 'b') + "\r\n\r\n") == 431);
  std::string many = "GET / HTTP/1.1\r\nHost: t\r\n";
  for (int i = 0; i < 12; ++i) many += "X-" + std::to_string(i) + ": 1\r\n";
  CHECK(status_and_closed(many + "\r\n") == 431);
  CHECK(status_and_closed("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n") == 413);
  CHECK(status_and_closed("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n7D0\r\n" +
                          std::string(2000, 'c') + "\r\n0\r\n\r\n") == 413);
  CHECK(status_and_closed("GET / HTTP/1.1\r\nHost : t\r\n\r\n") == 400);
  CHECK(status_and_closed("GET / HTTP/1.1\nHost: t\r\n\r\n") == 400);
  CHECK(status_and_closed("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n") == 400);
  CHECK(status_and_closed("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n") == 400);
  CHECK(status_and_closed("GET / HTTP/3.0\r\nHost: t\r\n\r\n") == 505);
}

SPINDLE_TEST("timeouts: header (slowloris) 408, keep-alive idle close, body 408") {
  http::ServiceOptions opt;
  opt.header_timeout = 300ms;
  opt.idle_timeout = 300ms;
  opt.body_timeout = 300ms;
  TestServer s(opt);
  {
    TcpClient c(s.port);
    c.send_all("GET / HTTP/1.1\r\nHo");  // and nothing more
    std::string buf;
    const auto start = std::chrono::steady_clock::now();
    CHECK(read_response(c, buf).status == 408);
    CHECK(std::chrono::steady_clock::now() - start >= 250ms);
    CHECK(c.closed_by_peer(2s));
  }
  {
    TcpClient c(s.port);
    std::string buf;
    c.send_all(get_root);
    CHECK(read_response(c, buf).status == 200);
    const auto start = std::chrono::steady_clock::now();
    CHECK(c.closed_by_peer(3s));  // idle keep-alive connection closed
    CHECK(std::chrono::steady_clock::now() - start >= 250ms);
  }
  {
    // The body stalls after 5 of 10 bytes. The streamed echo already sent those 5 back (with
    // its head), so the only way left to say "cut short" is to close the connection.
    TcpClient c(s.port);
    c.send_all("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nhalf!");
    const auto start = std::chrono::steady_clock::now();
    CHECK(c.closed_by_peer(3s));
    CHECK(std::chrono::steady_clock::now() - start >= 250ms);
  }
  {
    // A handler that reads the whole body first answers 408 when it stalls.
    TcpClient c(s.port);
    std::string buf;
    c.send_all("POST /all HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nhalf!");
    CHECK(read_response(c, buf).status == 408);
  }
}

SPINDLE_TEST("the keep-alive idle timeout counts from the last request, however many came before") {
  // The connection keeps one idle deadline and moves it forward: the first one it set passes
  // while the connection is in use, and must neither close it then nor let it idle longer.
  http::ServiceOptions opt;
  opt.idle_timeout = 300ms;
  TestServer s(opt);
  TcpClient c(s.port);
  std::string buf;
  for (int i = 0; i < 8; ++i) {  // 800 ms of requests 100 ms apart: each finds the connection open
    c.send_all(get_root);
    REQUIRE(read_response(c, buf).status == 200);
    std::this_thread::sleep_for(100ms);
  }
  c.send_all(get_root);
  REQUIRE(read_response(c, buf).status == 200);
  const auto start = std::chrono::steady_clock::now();
  CHECK(c.closed_by_peer(3s));
  CHECK(std::chrono::steady_clock::now() - start >= 250ms);
}

SPINDLE_TEST("a client that disconnects cancels its running handler") {
  TestServer s;
  {
    TcpClient c(s.port);
    c.send_all("GET /ctx HTTP/1.1\r\nHost: t\r\n\r\n");
    for (int i = 0; i < 200 && !s.started; ++i) std::this_thread::sleep_for(5ms);
    REQUIRE(s.started);
  }  // closes
  for (int i = 0; i < 200 && !s.observed; ++i) std::this_thread::sleep_for(5ms);
  CHECK(s.observed == static_cast<int>(Errc::canceled));
  CHECK(s.service->metrics().cancelled[static_cast<int>(http::CancelReason::client_gone)] == 1);
}

SPINDLE_TEST("the request deadline: request_timeout, shortened by X-Request-Timeout, never lengthened") {
  http::ServiceOptions opt;
  opt.request_timeout = 400ms;
  TestServer s(opt);
  auto timed = [&](const std::string& extra) {
    TcpClient c(s.port);
    c.send_all("GET /ctx HTTP/1.1\r\nHost: t\r\n" + extra + "\r\n");
    std::string buf;
    const auto start = std::chrono::steady_clock::now();
    auto r = read_response(c, buf);
    CHECK(s.observed == static_cast<int>(Errc::deadline_exceeded));
    return std::pair{r.status, std::chrono::steady_clock::now() - start};
  };
  auto [status1, took1] = timed("");
  CHECK(status1 == 200);  // the handler caught the end of its context and answered
  CHECK(took1 >= 350ms);
  auto [status2, took2] = timed("X-Request-Timeout: 100\r\n");
  CHECK(took2 < 350ms);
  auto [status3, took3] = timed("X-Request-Timeout: 5000\r\n");
  CHECK(took3 < 2s);
  (void)status2;
  (void)status3;
  TcpClient c(s.port);
  c.send_all("GET /delay?ms=2000 HTTP/1.1\r\nHost: t\r\nX-Request-Timeout: 50\r\n\r\n");
  std::string buf;
  CHECK(read_response(c, buf).status == 503);  // a handler that lets the deadline surface
}

SPINDLE_TEST("a deadline that cuts a streamed body short is counted as cancelled by deadline") {
  TestServer s({}, [](http::Router& r) {
    r.get("/slow-stream", [](Context, http::Request&) -> Task<http::Response> {
      co_return http::Response::streamed(200, "text/plain", [](Context c, http::ResponseWriter& w) -> Task<void> {
        co_await w.write(c, std::string_view("part "));
        co_await sleep(c, 10s);  // until the request's deadline
      });
    });
  });
  const auto deadline = static_cast<int>(http::CancelReason::deadline);
  TcpClient c(s.port);
  c.send_all("GET /slow-stream HTTP/1.1\r\nHost: t\r\nX-Request-Timeout: 50\r\n\r\n");
  std::string buf;
  auto r = read_response(c, buf);
  CHECK(r.status == 200);
  CHECK(r.body == "part ");
  for (int i = 0; i < 200 && s.service->metrics().cancelled[deadline] == 0; ++i) std::this_thread::sleep_for(5ms);
  CHECK(s.service->metrics().cancelled[deadline] == 1);
}

SPINDLE_TEST("router: parameters, 404, 405 with Allow, middleware, exceptions become 500") {
  test::LogCapture logs;
  TestServer s({}, [](http::Router& r) {
    r.use([](Context ctx, http::Request& req, http::Next next) -> Task<http::Response> {
      auto res = co_await next(ctx, req);
      res.header("X-Middleware", "seen");
      co_return res;
    });
  });
  auto user = test::http_exchange(s.port, "GET /users/ada HTTP/1.1\r\nHost: t\r\n\r\n");
  CHECK(user.body == "user ada\n");
  CHECK(user.header("x-middleware") == "seen");
  CHECK(test::http_exchange(s.port, "GET /users/ HTTP/1.1\r\nHost: t\r\n\r\n").status == 404);
  CHECK(test::http_exchange(s.port, "GET /users/a/b HTTP/1.1\r\nHost: t\r\n\r\n").status == 404);
  auto wrong = test::http_exchange(s.port, "DELETE /users/ada HTTP/1.1\r\nHost: t\r\n\r\n");
  CHECK(wrong.status == 405);
  CHECK(wrong.header("allow") == "GET, HEAD");
  auto boom = test::http_exchange(s.port, "GET /boom HTTP/1.1\r\nHost: t\r\nX-Request-Id: rid-7\r\n\r\n");
  CHECK(boom.status == 500);
  CHECK(has(boom.body, "rid-7"));
  CHECK(has(logs.text(), "request rid-7 GET /boom failed: handler bug"));
  CHECK(test::http_exchange(s.port, get_root).status == 200);  // still healthy
  auto q = test::http_exchange(s.port, "GET /delay?ms=1%30 HTTP/1.1\r\nHost: t\r\n\r\n");  // ms=10, decoded
  CHECK(q.body == "done\n");
}

SPINDLE_TEST("a handler that throws before it returns a task is answered 500 on a connection kept open") {
  test::LogCapture logs;
  TestServer s({}, [](http::Router& r) {
    // Not a coroutine: it throws while the router calls it, before there is a task to await.
    r.get("/boom-at-once", [](Context, http::Request&) -> Task<http::Response> { throw std::runtime_error("no task"); });
  });
  TcpClient c(s.port);
  std::string buf;
  c.send_all("GET /boom-at-once HTTP/1.1\r\nHost: t\r\nX-Request-Id: rid-8\r\n\r\n");
  CHECK(read_response(c, buf).status == 500);
  CHECK(has(logs.text(), "request rid-8 GET /boom-at-once failed: no task"));
  c.send_all(get_root);
  CHECK(read_response(c, buf).status == 200);
}

SPINDLE_TEST("streamed responses are chunked; HTTP/1.0 gets them close-delimited") {
  TestServer s;
  auto r = test::http_exchange(s.port, "GET /stream HTTP/1.1\r\nHost: t\r\n\r\n");
  CHECK(r.chunked);
  CHECK(r.body == "part part part ");
  TcpClient c(s.port);
  c.send_all("GET /stream HTTP/1.0\r\n\r\n");
  std::string buf;
  auto old = read_response(c, buf);
  CHECK_FALSE(old.chunked);
  CHECK(old.body == "part part part ");
}

SPINDLE_TEST("/healthz, /readyz while draining, /metrics, /debug/fibers") {
  TestServer s;
  CHECK(test::http_exchange(s.port, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n").status == 200);
  CHECK(test::http_exchange(s.port, "GET /readyz HTTP/1.1\r\nHost: t\r\n\r\n").status == 200);
  s.draining = true;
  CHECK(test::http_exchange(s.port, "GET /readyz HTTP/1.1\r\nHost: t\r\n\r\n").status == 503);
  s.draining = false;
  const std::string metrics = test::http_exchange(s.port, "GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n").body;
  for (const char* line : {"spindle_fibers_live ", "spindle_fibers_spawned_total ", "spindle_fibers_leaked_total 0",
                           "spindle_http_requests_total{code=\"2xx\"} ",
                           "spindle_http_request_duration_seconds_bucket{le=\"+Inf\"} ",
                           "spindle_http_requests_cancelled_total{reason=\"client_gone\"} 0"})
    CHECK(has(metrics, line));
  const std::string text = test::http_exchange(s.port, "GET /debug/fibers HTTP/1.1\r\nHost: t\r\n\r\n").body;
  CHECK(has(text, "\"http accept\""));
  const std::string json = test::http_exchange(s.port, "GET /debug/fibers?format=json HTTP/1.1\r\nHost: t\r\n\r\n").body;
  CHECK(has(json, "\"name\":\"http 127.0.0.1:"));
  CHECK(has(json, "\"spawned_at\":\""));
}

TEST_SUITE_END();
