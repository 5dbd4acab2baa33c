// A complete HTTP service on spindle: handlers are sequential fibers with a request Context.
//   http_service [PORT]      (default 8080; SIGINT or SIGTERM stops it)
#include <signal.h>

#include <spindle/http/router.hpp>
#include <spindle/http/service.hpp>
#include <spindle/scheduler.hpp>
#include <spindle/sleep.hpp>
#include <spindle/tcp/listener.hpp>

#include <cstdio>
#include <string>

using namespace spindle;
using namespace std::chrono_literals;

int main(int argc, char** argv) {
  const auto port = static_cast<unsigned short>(argc > 1 ? std::stoi(argv[1]) : 8080);
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);  // before any thread starts

  http::Router router;
  router.get("/users/{id}", [](Context ctx, http::Request& req) -> Task<http::Response> {
    if (auto err = co_await sleep(ctx, 10ms)) throw ContextError(err);  // aborted if the client leaves
    co_return http::Response::text(200, "user " + std::string(req.param("id")) + "\n");
  });
  router.post("/upload", [](Context ctx, http::Request& req) -> Task<http::Response> {
    const std::string body = co_await req.body().read_all(ctx, 1 << 20);  // 413 above 1 MiB
    co_return http::Response::json(200, "{\"bytes\":" + std::to_string(body.size()) + "}\n");
  });

  Scheduler sched;
  http::Service service(std::move(router), {});
  tcp::Listener listener(sched, {"http", {asio::ip::make_address("127.0.0.1"), port}},
                         [&](Context ctx, tcp::Conn conn) { return service.serve(std::move(ctx), std::move(conn)); });
  sched.start();
  service.start(sched.context());
  listener.start(sched.context());
  std::printf("listening on %u\n", listener.local_endpoint().port());
  std::fflush(stdout);

  int sig = 0;
  sigwait(&stop, &sig);
  service.drain();  // idle keep-alive connections close; in-flight requests finish
  listener.stop_accepting();
  listener.wait_for_connections(std::chrono::steady_clock::now() + 5s);
  listener.cancel_connections();
  return sched.shutdown().empty() ? 0 : 3;
}
