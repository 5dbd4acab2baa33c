#include "spindle/handlers/http_demo.hpp"

#include <fmt/format.h>

#include <charconv>

#include "spindle/fiber_info.hpp"
#include "spindle/sleep.hpp"

namespace spindle::handlers {
namespace {

using http::Request;
using http::Response;

constexpr std::uint64_t max_delay_ms = 10 * 60 * 1000;

std::string json_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
    } else {
      out += c;
    }
  }
  return out;
}

std::string site(const std::source_location& s) {
  return s.line() ? fmt::format("{}:{}", s.file_name(), s.line()) : std::string();
}

Task<Response> hello(Context, Request&) { co_return Response::text(200, "Hello, World!"); }

Task<Response> echo_body(Context, Request& req) {
  // Streams the body back as it arrives; the same length when it was announced.
  co_return Response::streamed(
      200, "application/octet-stream",
      [&req](Context ctx, http::ResponseWriter& out) -> Task<void> {
        char buf[16 * 1024];
        for (;;) {
          const tcp::IoResult got = co_await req.body().read(ctx, buf);
          if (got.error) throw http::HttpError(400, "request body: " + got.error.message());
          if (got.bytes == 0) co_return;
          if (auto ec = co_await out.write(ctx, {buf, got.bytes})) throw std::system_error(ec);
        }
      },
      req.body().length());
}

Task<Response> delay(Context ctx, Request& req) {
  const auto ms_text = req.query("ms");
  std::uint64_t ms = 0;
  if (!ms_text) co_return Response::text(400, "missing ms: use /delay?ms=N\n");
  auto [end, ec] = std::from_chars(ms_text->data(), ms_text->data() + ms_text->size(), ms);
  if (ms_text->empty() || ec != std::errc() || end != ms_text->data() + ms_text->size() || ms > max_delay_ms)
    co_return Response::text(400, "ms must be a whole number from 0 to 600000\n");
  if (auto err = co_await sleep(ctx, std::chrono::milliseconds(ms))) throw ContextError(err);
  co_return Response::text(200, "done\n");
}

std::string fibers_text() {
  std::string out;
  for (const auto& f : live_fibers()) out += to_string(f) + "\n";
  return out;
}

std::string fibers_json() {
  std::string out = "[";
  bool first = true;
  for (const auto& f : live_fibers()) {
    out += first ? "\n" : ",\n";
    first = false;
    out += fmt::format(
        R"({{"id":{},"parent":{},"name":"{}","worker":{},"age_ms":{:.3f},"spawned_at":"{}","parked_at":"{}","deadline_left_ms":{},"canceled":{}}})",
        f.id, f.parent_id, json_escape(f.name), f.worker, std::chrono::duration<double, std::milli>(f.age).count(),
        json_escape(site(f.spawned_at)), json_escape(site(f.parked_at)),
        f.deadline_left ? fmt::format("{:.3f}", std::chrono::duration<double, std::milli>(*f.deadline_left).count())
                        : std::string("null"),
        f.canceled ? "true" : "false");
  }
  return out + "\n]\n";
}

}  // namespace

std::string render_metrics(const DemoProbes& probes) {
  std::string out;
  auto metric = [&](std::string_view name, std::string_view type, std::string_view help) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  };
  metric("spindle_fibers_live", "gauge", "Fibers running now.");
  out += fmt::format("spindle_fibers_live {}\n", live_fiber_count());
  metric("spindle_fibers_spawned_total", "counter", "Fibers started since the process began.");
  out += fmt::format("spindle_fibers_spawned_total {}\n", spawned_fiber_count());
  metric("spindle_fibers_leaked_total", "counter", "Fibers reported as leaked by a shutdown.");
  out += fmt::format("spindle_fibers_leaked_total {}\n", leaked_fiber_count());

  if (probes.connections) {
    const auto services = probes.connections();
    metric("spindle_connections_open", "gauge", "Open connections per service.");
    for (const auto& s : services) out += fmt::format("spindle_connections_open{{service=\"{}\"}} {}\n", s.name, s.open);
    metric("spindle_connections_accepted_total", "counter", "Connections accepted per service.");
    for (const auto& s : services)
      out += fmt::format("spindle_connections_accepted_total{{service=\"{}\"}} {}\n", s.name, s.accepted);
    metric("spindle_connections_rejected_total", "counter", "Connections refused over the limit, per service.");
    for (const auto& s : services)
      out += fmt::format("spindle_connections_rejected_total{{service=\"{}\"}} {}\n", s.name, s.rejected);
  }

  const http::ServiceMetrics* m = probes.http_metrics ? probes.http_metrics() : nullptr;
  if (m) {
    metric("spindle_http_requests_total", "counter", "HTTP requests answered, by status class.");
    for (int cls = 1; cls <= 5; ++cls)
      out += fmt::format("spindle_http_requests_total{{code=\"{}xx\"}} {}\n", cls, m->requests_by_class[cls].load());
    metric("spindle_http_request_duration_seconds", "histogram", "Time from a request's head to its response.");
    std::uint64_t cumulative = 0;
    for (std::size_t b = 0; b < http::ServiceMetrics::buckets.size(); ++b) {
      cumulative += m->duration_buckets[b].load();
      out += fmt::format("spindle_http_request_duration_seconds_bucket{{le=\"{}\"}} {}\n",
                         http::ServiceMetrics::buckets[b], cumulative);
    }
    cumulative += m->duration_buckets.back().load();
    out += fmt::format("spindle_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {}\n", cumulative);
    out += fmt::format("spindle_http_request_duration_seconds_sum {:.6f}\n", m->duration_sum_us.load() / 1e6);
    out += fmt::format("spindle_http_request_duration_seconds_count {}\n", cumulative);
    metric("spindle_http_requests_cancelled_total", "counter", "Requests whose context ended before the handler did, by reason.");
    const char* reasons[] = {"client_gone", "deadline", "shutdown"};
    for (int r = 0; r < 3; ++r)
      out += fmt::format("spindle_http_requests_cancelled_total{{reason=\"{}\"}} {}\n", reasons[r], m->cancelled[r].load());
    metric("spindle_http_bad_requests_total", "counter", "Requests refused as malformed or over a limit.");
    out += fmt::format("spindle_http_bad_requests_total {}\n", m->parse_errors.load());
  }
  return out;
}

void add_demo_routes(http::Router& router, DemoProbes probes) {
  router.get("/", hello);
  router.post("/echo", echo_body);
  router.get("/delay", delay);
  router.get("/healthz", [](Context, Request&) -> Task<Response> { co_return Response::text(200, "ok\n"); });
  router.get("/readyz", [probes](Context, Request&) -> Task<Response> {
    if (probes.ready && !probes.ready()) co_return Response::text(503, "draining\n");
    co_return Response::text(200, "ready\n");
  });
  router.get("/metrics", [probes](Context, Request&) -> Task<Response> {
    auto r = Response::text(200, render_metrics(probes));
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";  // Prometheus text format
    co_return r;
  });
  router.get("/debug/fibers", [](Context, Request& req) -> Task<Response> {
    if (req.query("format") == "json") co_return Response::json(200, fibers_json());
    co_return Response::text(200, fibers_text());
  });
}

}  // namespace spindle::handlers
