#include "spindle/server/server.hpp"

#include <spdlog/spdlog.h>

#include "spindle/handlers/echo.hpp"
#include "spindle/handlers/http_demo.hpp"

namespace spindle::server {
namespace {

/// After the grace period connections are cancelled; this is how long their fibers get to
/// unwind before the leak detector looks.
constexpr auto unwind_time = std::chrono::seconds(2);

asio::ip::tcp::endpoint to_asio(const config::Endpoint& e) {
  return {asio::ip::make_address(e.host), e.port};
}

http::ServiceOptions http_options(const config::HttpConfig& c) {
  http::ServiceOptions o;
  o.limits.max_request_line = c.max_request_line;
  o.limits.max_header_bytes = c.max_header_bytes;
  o.limits.max_headers = c.max_headers;
  o.limits.max_body = c.max_body;
  o.header_timeout = c.header_timeout;
  o.idle_timeout = c.idle_timeout;
  o.body_timeout = c.body_timeout;
  o.request_timeout = c.request_timeout;
  o.write_timeout = c.write_timeout;
  o.access_log = c.access_log;
  return o;
}

}  // namespace

Server::Server(config::ServerConfig config)
    : config_(std::move(config)), scheduler_({.threads = config_.threads, .idle_spin = config_.idle_spin}) {}

Server::~Server() {
  if (!shut_down_) shutdown();
}

void Server::start() {
  const bool reuseport = config_.accept_mode == config::AcceptMode::reuseport;
  if (config_.echo.enabled) {
    handlers::EchoOptions options{config_.echo.idle_timeout};
    echo_ = std::make_unique<tcp::Listener>(
        scheduler_,
        tcp::ListenerOptions{"echo", to_asio(config_.echo.listen), reuseport,
                             config_.echo.max_connections},
        [options](Context ctx, tcp::Conn conn) {
          return handlers::echo(std::move(ctx), std::move(conn), options);
        });
  }
  if (config_.http.enabled) {
    http::Router router;
    handlers::add_demo_routes(
        router, handlers::DemoProbes{
                    [this] { return ready(); },
                    [this] {
                      std::vector<handlers::ServiceCounters> out;
                      for (auto [name, l] : {std::pair{"echo", echo_.get()}, std::pair{"http", http_.get()}})
                        if (l) {
                          const auto s = l->stats();
                          out.push_back({name, s.open, s.accepted, s.rejected});
                        }
                      return out;
                    },
                    [this]() -> const http::ServiceMetrics* {
                      return http_service_ ? &http_service_->metrics() : nullptr;
                    }});
    http_service_ = std::make_unique<http::Service>(std::move(router), http_options(config_.http));
    http_ = std::make_unique<tcp::Listener>(
        scheduler_,
        tcp::ListenerOptions{"http", to_asio(config_.http.listen), reuseport, config_.http.max_connections},
        [service = http_service_.get()](Context ctx, tcp::Conn conn) {
          return service->serve(std::move(ctx), std::move(conn));
        });
  }
  scheduler_.start();
  if (http_) http_service_->start(scheduler_.context());
  // Ready before the first "listening" line: whoever waits for that line may probe /readyz.
  ready_.store(true, std::memory_order_release);
  if (echo_) {
    echo_->start(scheduler_.context());
    spdlog::info("echo listening on {}", tcp::to_string(echo_->local_endpoint()));
  }
  if (http_) {
    http_->start(scheduler_.context());
    spdlog::info("http listening on {}", tcp::to_string(http_->local_endpoint()));
  }
}

std::optional<asio::ip::tcp::endpoint> Server::http_endpoint() const {
  if (!http_) return std::nullopt;
  return http_->local_endpoint();
}

std::optional<asio::ip::tcp::endpoint> Server::echo_endpoint() const {
  if (!echo_) return std::nullopt;
  return echo_->local_endpoint();
}

std::vector<FiberInfo> Server::shutdown() {
  if (shut_down_) return {};
  shut_down_ = true;
  ready_.store(false, std::memory_order_release);
  if (echo_) echo_->stop_accepting();
  if (http_service_) http_service_->drain();

  const auto grace = config_.shutdown_grace;
  const auto deadline = std::chrono::steady_clock::now() + grace;
  for (auto [name, l] : {std::pair{"echo", echo_.get()}, std::pair{"http", http_.get()}}) {
    if (!l) continue;
    const auto open = l->stats().open;
    if (open > 0)
      spdlog::info("shutdown: waiting up to {} for {} open {} connection(s)", config::format_duration(grace),
                   open, name);
    if (!l->wait_for_connections(deadline))
      spdlog::info("shutdown: grace period over, cancelling {} {} connection(s)", l->stats().open, name);
  }
  for (auto* l : {echo_.get(), http_.get()}) {
    if (!l) continue;
    l->stop_accepting();
    l->cancel_connections();
  }
  auto leaks = scheduler_.shutdown(unwind_time);
  echo_.reset();
  http_.reset();
  http_service_.reset();
  if (leaks.empty()) spdlog::info("shutdown complete: every fiber ended");
  else spdlog::error("shutdown complete: {} fiber(s) leaked (listed above)", leaks.size());
  return leaks;
}

}  // namespace spindle::server
