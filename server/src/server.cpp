#include "spindle/server/server.hpp"

#include <spdlog/spdlog.h>

#include "spindle/handlers/echo.hpp"

namespace spindle::server {
namespace {

/// After the grace period connections are cancelled; this is how long their fibers get to
/// unwind before the leak detector looks.
constexpr auto unwind_time = std::chrono::seconds(2);

asio::ip::tcp::endpoint to_asio(const config::Endpoint& e) {
  return {asio::ip::make_address(e.host), e.port};
}

}  // namespace

Server::Server(config::ServerConfig config)
    : config_(std::move(config)), scheduler_({.threads = config_.threads}) {}

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
  scheduler_.start();
  if (echo_) {
    echo_->start(scheduler_.context());
    spdlog::info("echo listening on {}", tcp::to_string(echo_->local_endpoint()));
  }
  ready_.store(true, std::memory_order_release);
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

  const auto grace = config_.shutdown_grace;
  const auto deadline = std::chrono::steady_clock::now() + grace;
  if (echo_) {
    const auto open = echo_->stats().open;
    if (open > 0)
      spdlog::info("shutdown: waiting up to {} for {} open echo connection(s)",
                   config::format_duration(grace), open);
    if (!echo_->wait_for_connections(deadline)) {
      spdlog::info("shutdown: grace period over, cancelling {} echo connection(s)",
                   echo_->stats().open);
    }
    echo_->cancel_connections();
  }
  auto leaks = scheduler_.shutdown(unwind_time);
  echo_.reset();
  if (leaks.empty()) spdlog::info("shutdown complete: every fiber ended");
  else spdlog::error("shutdown complete: {} fiber(s) leaked (listed above)", leaks.size());
  return leaks;
}

}  // namespace spindle::server
