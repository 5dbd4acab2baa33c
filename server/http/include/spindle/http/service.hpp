// http::Service: HTTP/1.1 on a tcp::Listener's connections — keep-alive, pipelining,
// 100-continue, HEAD, timeouts, request-scoped contexts, router and middleware.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "spindle/context.hpp"
#include "spindle/http/parser.hpp"
#include "spindle/http/router.hpp"
#include "spindle/task.hpp"
#include "spindle/tcp/conn.hpp"

namespace spindle::http {

using namespace std::chrono_literals;

struct ServiceOptions {
  ParserLimits limits;
  /// From a request's first byte until its head is complete (slowloris); 408 after it.
  std::chrono::milliseconds header_timeout = 10s;
  /// How long a keep-alive connection may sit idle between requests.
  std::chrono::milliseconds idle_timeout = 60s;
  /// How long one body read may wait for bytes.
  std::chrono::milliseconds body_timeout = 30s;
  /// A request's deadline: its context ends then (X-Request-Timeout may shorten it).
  std::chrono::milliseconds request_timeout = 30s;
  /// How long writing one response may wait for a client that does not read.
  std::chrono::milliseconds write_timeout = 30s;
  /// The Server header.
  std::string server_name = "spindle";
  /// One info line per request: method, path, status, bytes, duration, request id.
  bool access_log = true;
};

/// Why a request's context ended before its handler did.
enum class CancelReason { client_gone, deadline, shutdown };

/// Counters of a service, for /metrics. All fields may be read while they change.
struct ServiceMetrics {
  /// Upper bounds, in seconds, of the request duration histogram's buckets (+Inf is implied).
  static constexpr std::array<double, 10> buckets{0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10};
  std::array<std::atomic<std::uint64_t>, 6> requests_by_class{};  ///< [1]..[5]: 1xx..5xx
  std::array<std::atomic<std::uint64_t>, buckets.size() + 1> duration_buckets{};  ///< not cumulative
  std::atomic<std::uint64_t> duration_sum_us{0};
  std::array<std::atomic<std::uint64_t>, 3> cancelled{};  ///< by CancelReason
  std::atomic<std::uint64_t> parse_errors{0};

  void record(int status, std::chrono::nanoseconds duration) noexcept;
};

class Service {
 public:
  Service(Router router, ServiceOptions options);
  ~Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  /// Must be called before connections arrive: `ctx` bounds idle keep-alive waits.
  void start(const Context& ctx);
  /// The body of one connection's fiber (a tcp::ConnectionHandler).
  Task<void> serve(Context ctx, tcp::Conn conn);
  /// Starts draining: idle keep-alive connections close now; responses in flight go out with
  /// `Connection: close`, and their connections close after them.
  void drain();
  bool draining() const noexcept { return draining_.load(std::memory_order_acquire); }

  const ServiceOptions& options() const noexcept { return options_; }
  ServiceMetrics& metrics() noexcept { return metrics_; }
  const Router& router() const noexcept { return router_; }

  /// Internal: one connection's state, and the per-request buffers it borrows.
  struct Connection;
  struct Scratch;

 private:
  Router router_;
  ServiceOptions options_;
  ServiceMetrics metrics_;
  std::optional<WithCancel<CancelFunc>> idle_scope_;
  std::atomic<bool> draining_{false};
};

}  // namespace spindle::http
