// http::Response: a status, headers and a body — a string, or a stream written while the
// handler's fiber runs. Date, Server and Content-Length (or chunked framing) are added when
// it is sent.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "spindle/context.hpp"
#include "spindle/task.hpp"

namespace spindle::http {

class Exchange;

/// Writes a streamed response body: chunked, or plain when the length was announced.
class ResponseWriter {
 public:
  /// Sends `data` (nothing for an empty span). An error once the client is gone, ctx ends,
  /// or the write timeout passes.
  Task<std::error_code> write(Context ctx, std::span<const char> data);

 private:
  friend class Exchange;
  explicit ResponseWriter(Exchange& exchange) noexcept : exchange_(&exchange) {}
  Exchange* exchange_;
};

/// Writes a response body; runs in the handler's fiber after the head was sent.
using StreamBody = std::function<Task<void>(Context, ResponseWriter&)>;

struct Response {
  int status = 200;
  /// The Content-Type text() and json() set, kept out of `headers` so that a plain response
  /// allocates nothing for it. It must point to storage that outlives the response (a string
  /// literal); for any other type add a Content-Type header, which replaces this one.
  std::string_view content_type;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  /// When set, the body is produced by this function instead of `body`.
  StreamBody stream;
  /// For a stream: its length, sent as Content-Length; unset means chunked.
  std::optional<std::uint64_t> stream_length;

  /// `status` with a text/plain body.
  static Response text(int status, std::string body);
  /// `status` with an application/json body.
  static Response json(int status, std::string body);
  /// `status` whose body `fn` writes; `length` if known in advance.
  static Response streamed(int status, std::string content_type, StreamBody fn,
                           std::optional<std::uint64_t> length = std::nullopt);
  /// Adds a header field.
  Response& header(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }
};

/// "OK", "Not Found", ... ("Unknown" for codes it does not know).
std::string_view reason_phrase(int status) noexcept;

}  // namespace spindle::http
