// tcp::Listener: binds, accepts in fibers, and runs one fiber per connection.
#pragma once

#include <asio/ip/tcp.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>

#include "spindle/context.hpp"
#include "spindle/scheduler.hpp"
#include "spindle/task.hpp"
#include "spindle/tcp/conn.hpp"

namespace spindle::tcp {

/// The address could not be listened on (in use, not permitted, not local). The message says
/// which service, which address and why; spindle-server exits with code 1 on it.
class BindError : public std::runtime_error {
 public:
  BindError(const std::string& what, std::error_code code) : std::runtime_error(what), code(code) {}
  std::error_code code;
};

struct ListenerOptions {
  /// The service name: connection fibers are named "<name> <peer>", log lines start with it.
  std::string name = "tcp";
  asio::ip::tcp::endpoint endpoint;
  /// true: one listening socket per worker thread (SO_REUSEPORT), each accepting onto its own
  /// thread; false: one socket on worker 0 handing connections to the workers in turn.
  bool reuseport = true;
  /// Open connections at most; above it a new connection is accepted and closed at once.
  std::size_t max_connections = 10'000;
  int backlog = 4096;
};

/// The body of each connection's fiber, which owns the connection. Its context ends when the
/// listener's connections are cancelled (shutdown after the grace period) or the listener's
/// context is.
using ConnectionHandler = std::function<Task<void>(Context, Conn)>;

/// Counters of a listener, readable at any time.
struct ListenerStats {
  std::uint64_t accepted = 0;       ///< connections handed to a fiber
  std::uint64_t rejected = 0;       ///< closed at once: over max_connections
  std::uint64_t accept_errors = 0;  ///< failed accepts (EMFILE, ENFILE, ...)
  std::uint64_t open = 0;           ///< connection fibers running now
};

class Listener {
 public:
  /// Binds now, so an address in use or not permitted fails here with BindError, before
  /// anything runs.
  Listener(Scheduler& scheduler, ListenerOptions options, ConnectionHandler handler);
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  /// The bound address (with the actual port when 0 was asked for).
  asio::ip::tcp::endpoint local_endpoint() const;
  /// Starts the accept loops. Accept loops and connections get their own children of `ctx`,
  /// so stop_accepting() leaves connections running.
  void start(const Context& ctx);
  /// Closes the listening sockets; new connections are refused from then on. Any thread.
  void stop_accepting();
  /// Cancels every connection's context. Any thread.
  void cancel_connections();
  /// Blocks the calling thread (not a worker) until no connection is open or `deadline`
  /// passes; true if none is left.
  bool wait_for_connections(std::chrono::steady_clock::time_point deadline) const;
  ListenerStats stats() const;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace spindle::tcp
