// http::Router: method + path routing (exact segments and `{name}` parameters), 404 and 405
// with Allow, and a middleware chain around every handler.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "spindle/context.hpp"
#include "spindle/http/request.hpp"
#include "spindle/http/response.hpp"
#include "spindle/task.hpp"

namespace spindle::http {

/// A request handler: a plain sequential fiber function.
using Handler = std::function<Task<Response>(Context, Request&)>;
/// What a middleware calls to run the rest of the chain.
using Next = std::function<Task<Response>(Context, Request&)>;
/// Runs around the handler: may answer itself, change the request's context, or post-process.
using Middleware = std::function<Task<Response>(Context, Request&, Next)>;

class Router {
 public:
  /// Routes `method` requests for `pattern` ("/users/{id}") to `handler`. GET routes also
  /// answer HEAD.
  Router& route(std::string method, std::string pattern, Handler handler);
  Router& get(std::string pattern, Handler handler) { return route("GET", std::move(pattern), std::move(handler)); }
  Router& post(std::string pattern, Handler handler) { return route("POST", std::move(pattern), std::move(handler)); }
  Router& put(std::string pattern, Handler handler) { return route("PUT", std::move(pattern), std::move(handler)); }
  Router& del(std::string pattern, Handler handler) { return route("DELETE", std::move(pattern), std::move(handler)); }
  /// Adds a middleware; the first added is the outermost.
  Router& use(Middleware middleware);

  /// Runs the middleware chain and the matching handler: 404 when no pattern matches the
  /// path, 405 with Allow when one does but not for this method.
  Task<Response> dispatch(Context ctx, Request& req) const;

 private:
  struct Route {
    std::string method;
    std::vector<std::string> segments;  // "{name}" for parameters
    Handler handler;
  };
  Task<Response> handle(Context ctx, Request& req) const;
  Task<Response> run_chain(Context ctx, Request& req) const;

  std::vector<Route> routes_;
  std::vector<Middleware> middleware_;
};

}  // namespace spindle::http
