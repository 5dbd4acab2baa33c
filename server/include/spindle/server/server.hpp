// spindle-server's services wired together: scheduler, listeners, readiness, and the
// graceful shutdown sequence. main() and the in-process tests both drive this.
#pragma once

#include <asio/ip/tcp.hpp>
#include <atomic>
#include <memory>
#include <optional>
#include <vector>

#include "spindle/config/config.hpp"
#include "spindle/fiber_info.hpp"
#include "spindle/http/service.hpp"
#include "spindle/scheduler.hpp"
#include "spindle/tcp/listener.hpp"

namespace spindle::server {

/// Exit codes of spindle-server (documented in the README).
enum ExitCode : int {
  exit_ok = 0,           ///< shut down and every fiber ended
  exit_start_failed = 1, ///< could not start: an address in use or not permitted, ...
  exit_bad_config = 2,   ///< invalid configuration; nothing was started
  exit_leaked = 3,       ///< shut down, but fibers were still alive (the leak report names them)
  exit_forced = 4,       ///< a second SIGTERM/SIGINT cut the graceful shutdown short
};

class Server {
 public:
  explicit Server(config::ServerConfig config);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Binds every enabled service and starts serving. Throws tcp::BindError.
  void start();
  /// The echo service's bound address, if it runs.
  std::optional<asio::ip::tcp::endpoint> echo_endpoint() const;
  /// The HTTP service's bound address, if it runs.
  std::optional<asio::ip::tcp::endpoint> http_endpoint() const;
  /// True while serving; false from the start of shutdown on.
  bool ready() const noexcept { return ready_.load(std::memory_order_acquire); }
  /// The graceful shutdown: turn not-ready; the echo service stops accepting; the HTTP service
  /// closes idle keep-alive connections and answers what still comes with `Connection:
  /// close` (and 503 on /readyz), so load balancers see it leave; open connections get the
  /// configured grace to finish; then the listeners close, the rest is cancelled, the
  /// scheduler shuts down and the leak detector runs. Returns the fibers it reported. Call
  /// from outside the scheduler.
  std::vector<FiberInfo> shutdown();

  Scheduler& scheduler() noexcept { return scheduler_; }
  const config::ServerConfig& config() const noexcept { return config_; }

 private:
  config::ServerConfig config_;
  Scheduler scheduler_;
  std::unique_ptr<http::Service> http_service_;  // after the scheduler: destroyed before it
  std::unique_ptr<tcp::Listener> echo_;
  std::unique_ptr<tcp::Listener> http_;
  std::atomic<bool> ready_{false};
  bool shut_down_ = false;
};

}  // namespace spindle::server
