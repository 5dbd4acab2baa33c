#include "spindle/http/router.hpp"

#include <algorithm>

namespace spindle::http {
namespace {

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> segments;
  std::size_t start = path.starts_with('/') ? 1 : 0;
  while (start <= path.size()) {
    const auto slash = path.find('/', start);
    segments.emplace_back(path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return segments;
}

bool is_param(const std::string& segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

/// Matches `path` against a pattern's segments, collecting parameters.
bool match(const std::vector<std::string>& pattern, std::string_view path,
           std::vector<std::pair<std::string_view, std::string_view>>& params) {
  params.clear();
  std::size_t start = path.starts_with('/') ? 1 : 0;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (start > path.size()) return false;
    const auto slash = path.find('/', start);
    const bool last = i + 1 == pattern.size();
    if (last != (slash == std::string_view::npos)) return false;
    const std::string_view segment = path.substr(start, last ? std::string_view::npos : slash - start);
    if (is_param(pattern[i])) {
      if (segment.empty()) return false;
      params.emplace_back(std::string_view(pattern[i]).substr(1, pattern[i].size() - 2), segment);
    } else if (segment != pattern[i]) {
      return false;
    }
    start = last ? path.size() + 1 : slash + 1;
  }
  return true;
}

}  // namespace

Router& Router::route(std::string method, std::string pattern, Handler handler) {
  routes_.push_back({std::move(method), split_path(pattern), std::move(handler)});
  return *this;
}

Router& Router::use(Middleware middleware) {
  middleware_.push_back(std::move(middleware));
  return *this;
}

namespace {

Task<Response> ready(Response response) { co_return response; }

}  // namespace

Task<Response> Router::run_chain(Context ctx, Request& req) const {
  // Built for each request, from the innermost out: each Next holds the rest.
  Next next = [this](Context c, Request& r) { return handle(std::move(c), r); };
  for (auto it = middleware_.rbegin(); it != middleware_.rend(); ++it)
    next = [mw = &*it, rest = std::move(next)](Context c, Request& r) { return (*mw)(std::move(c), r, rest); };
  co_return co_await next(std::move(ctx), req);
}

// handle and dispatch are not coroutines: they return the handler's own task, which spares a
// coroutine frame each per request (only a 404 or 405 makes one, to hold its answer).
Task<Response> Router::handle(Context ctx, Request& req) const {
  std::vector<std::pair<std::string_view, std::string_view>> params;
  std::vector<std::string_view> allowed;
  const Route* found = nullptr;
  for (const auto& r : routes_) {
    if (!match(r.segments, req.path(), params)) continue;
    const bool same = r.method == req.method() || (r.method == "GET" && req.method() == "HEAD");
    if (same) {
      found = &r;
      break;
    }
    allowed.push_back(r.method);
    if (r.method == "GET") allowed.push_back("HEAD");
  }
  if (!found) {
    if (allowed.empty()) return ready(Response::text(404, "not found\n"));
    std::sort(allowed.begin(), allowed.end());
    allowed.erase(std::unique(allowed.begin(), allowed.end()), allowed.end());
    std::string allow;
    for (auto m : allowed) allow += (allow.empty() ? "" : ", ") + std::string(m);
    return ready(Response::text(405, "method not allowed\n").header("Allow", std::move(allow)));
  }
  // The parameters the loop's last match collected, the found route's: they point into the
  // request target, which outlives the handler.
  req.set_params(std::move(params));
  return found->handler(std::move(ctx), req);
}

Task<Response> Router::dispatch(Context ctx, Request& req) const {
  if (middleware_.empty()) return handle(std::move(ctx), req);
  return run_chain(std::move(ctx), req);
}

}  // namespace spindle::http
