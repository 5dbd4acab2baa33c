// The demo HTTP service of spindle-server: hello, echo, delay, health, readiness, metrics
// and the live fiber table.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "spindle/http/router.hpp"
#include "spindle/http/service.hpp"

namespace spindle::handlers {

/// Connection counters of one service, for /metrics.
struct ServiceCounters {
  std::string name;  ///< "echo", "http"
  std::uint64_t open = 0;
  std::uint64_t accepted = 0;
  std::uint64_t rejected = 0;
};

/// What the demo routes need from the server around them.
struct DemoProbes {
  /// True while serving; false while draining (/readyz answers 503 then).
  std::function<bool()> ready;
  /// The connection counters of every service.
  std::function<std::vector<ServiceCounters>()> connections;
  /// The HTTP service's request metrics.
  std::function<const http::ServiceMetrics*()> http_metrics;
};

/// Adds, to `router`:
///   GET  /              200 "Hello, World!" (text/plain)
///   POST /echo          200 with the request body (Content-Length or chunked in), streamed out
///   GET  /delay?ms=N    waits N ms on the request context, then "done"; bad or missing ms: 400
///   GET  /healthz       200 while the process lives
///   GET  /readyz        200 while serving, 503 while draining
///   GET  /metrics       Prometheus text format
///   GET  /debug/fibers  the live fiber table as text; ?format=json for JSON
void add_demo_routes(http::Router& router, DemoProbes probes);

/// The Prometheus text exposition of the runtime, the services and the HTTP metrics.
std::string render_metrics(const DemoProbes& probes);

}  // namespace spindle::handlers
