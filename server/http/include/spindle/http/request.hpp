// http::Request: what a handler sees of a request — method, target, decoded query
// parameters, case-insensitive headers, route parameters, and a streaming body.
#pragma once

#include <cstdint>
#include <optional>
#include <source_location>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "spindle/context.hpp"
#include "spindle/http/parser.hpp"
#include "spindle/task.hpp"
#include "spindle/tcp/conn.hpp"

namespace spindle::http {

/// Throw from a handler (or middleware) to answer with `status` and `what()` as the body.
class HttpError : public std::runtime_error {
 public:
  HttpError(int status, const std::string& message) : std::runtime_error(message), status(status) {}
  int status;
};

class Exchange;

/// A request's body, decoded (chunked framing removed), read as the handler asks for it. With
/// `Expect: 100-continue`, the interim 100 response is sent on the first read. Each read is
/// bounded by the configured body timeout; the total by the body size limit.
class Body {
 public:
  /// Reads up to buf.size() body bytes, waiting for some. {0, {}} at the end of the body;
  /// an error if the body is malformed, too large, cut off, or ctx ends.
  Task<tcp::IoResult> read(Context ctx, std::span<char> buf,
                           std::source_location where = std::source_location::current());
  /// Reads the whole body. Throws HttpError 413 if it is longer than `limit`, 400 if it is
  /// malformed or cut off, ContextError if ctx ends.
  Task<std::string> read_all(Context ctx, std::size_t limit = 1 << 20,
                             std::source_location where = std::source_location::current());
  /// The Content-Length, when the request has one.
  std::optional<std::uint64_t> length() const noexcept;
  /// True once the whole body has been read.
  bool done() const noexcept;

 private:
  friend class Exchange;
  friend class Request;
  explicit Body(Exchange& exchange) noexcept : exchange_(&exchange) {}
  Exchange* exchange_;
};

/// One request. Views returned by its accessors are valid until the handler returns.
class Request {
 public:
  std::string_view method() const noexcept { return head_->method; }
  /// The request target as sent: "/path?query".
  std::string_view target() const noexcept { return head_->target; }
  /// The path part of the target (absolute-form targets reduced to their path).
  std::string_view path() const noexcept { return path_; }
  /// The raw query string (after '?'), or "".
  std::string_view query_string() const noexcept { return query_; }
  /// The first query parameter called `name`, percent- and '+'-decoded.
  std::optional<std::string> query(std::string_view name) const;
  /// The first header field called `name` (case-insensitive).
  std::optional<std::string_view> header(std::string_view name) const noexcept { return head_->field(name); }
  const std::vector<Field>& headers() const noexcept { return head_->fields; }
  /// 0 for HTTP/1.0, 1 for HTTP/1.1.
  int minor_version() const noexcept { return head_->minor_version; }
  /// The value a route pattern's `{name}` segment matched, or "".
  std::string_view param(std::string_view name) const noexcept;
  Body& body() noexcept { return body_; }
  /// The request id: X-Request-Id when the client sent a usable one (up to 128 printable
  /// characters, no spaces), else 16 random hex digits.
  std::string_view id() const noexcept {
    return given_id_.empty() ? std::string_view(made_id_, sizeof made_id_) : given_id_;
  }
  /// The client's address.
  const std::string& peer() const noexcept { return *peer_; }

  /// For the router: records the parameters a pattern matched.
  void set_params(std::vector<std::pair<std::string_view, std::string_view>> params) { params_ = std::move(params); }

 private:
  friend class Exchange;
  Request(const RequestHead& head, Exchange& exchange, const std::string& peer);

  const RequestHead* head_;
  std::string_view path_, query_;
  Body body_;
  std::string_view given_id_;  // in the head, which stays put while the request is served
  char made_id_[16];
  const std::string* peer_;
  std::vector<std::pair<std::string_view, std::string_view>> params_;
};

/// Percent-decodes `s`; with `plus_is_space`, '+' becomes ' ' (form encoding). Invalid escapes
/// are kept as they are.
std::string percent_decode(std::string_view s, bool plus_is_space);

}  // namespace spindle::http
