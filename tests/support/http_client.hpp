// Reading HTTP/1.1 responses off a raw socket, for tests that send what curl cannot.
#pragma once

#include <map>
#include <string>

#include "support/tcp_client.hpp"

namespace spindle::test {

struct HttpResponse {
  int status = 0;
  std::string reason;
  std::map<std::string, std::string> headers;  ///< lower-case names
  std::string body;                            ///< chunked framing removed
  bool chunked = false;
  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

/// Reads one response from `c` (with `head_only`: no body follows, as for HEAD).
/// Bytes after it stay buffered in `leftover` for the next call.
HttpResponse read_response(TcpClient& c, std::string& leftover, bool head_only = false);

/// Sends `raw` on a new connection to `port` and reads one response.
HttpResponse http_exchange(std::uint16_t port, const std::string& raw);

}  // namespace spindle::test
