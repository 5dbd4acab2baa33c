#include "support/http_client.hpp"

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace spindle::test {
namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

/// Takes from `buf` (reading more from `c` as needed) up to and including `delim`.
std::string take_until(TcpClient& c, std::string& buf, const std::string& delim) {
  for (;;) {
    const auto at = buf.find(delim);
    if (at != std::string::npos) {
      std::string out = buf.substr(0, at + delim.size());
      buf.erase(0, at + delim.size());
      return out;
    }
    std::string more = c.recv_some();
    if (more.empty()) throw std::runtime_error("connection closed in a response: " + buf);
    buf += more;
  }
}

std::string take_exact(TcpClient& c, std::string& buf, std::size_t n) {
  while (buf.size() < n) {
    std::string more = c.recv_some();
    if (more.empty()) throw std::runtime_error("connection closed in a response body");
    buf += more;
  }
  std::string out = buf.substr(0, n);
  buf.erase(0, n);
  return out;
}

}  // namespace

HttpResponse read_response(TcpClient& c, std::string& buf, bool head_only) {
  HttpResponse r;
  const std::string head = take_until(c, buf, "\r\n\r\n");
  const auto line_end = head.find("\r\n");
  const std::string line = head.substr(0, line_end);
  if (line.size() < 12) throw std::runtime_error("bad status line: " + line);
  r.status = std::stoi(line.substr(9, 3));
  r.reason = line.size() > 13 ? line.substr(13) : "";
  std::size_t pos = line_end + 2;
  while (pos < head.size() - 2) {
    const auto end = head.find("\r\n", pos);
    const std::string field = head.substr(pos, end - pos);
    const auto colon = field.find(':');
    std::string value = field.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    r.headers[lower(field.substr(0, colon))] = value;
    pos = end + 2;
  }
  if (head_only || r.status == 100 || r.status == 204 || r.status == 304) return r;
  if (lower(r.header("transfer-encoding")) == "chunked") {
    r.chunked = true;
    for (;;) {
      const std::string size_line = take_until(c, buf, "\r\n");
      const std::size_t size = std::stoul(size_line, nullptr, 16);
      if (size == 0) {
        take_until(c, buf, "\r\n");  // no trailers in spindle's responses
        return r;
      }
      r.body += take_exact(c, buf, size);
      take_exact(c, buf, 2);
    }
  }
  if (auto len = r.header("content-length"); !len.empty()) {
    r.body = take_exact(c, buf, std::stoul(len));
    return r;
  }
  // Delimited by close.
  r.body = buf + c.recv_until_eof();
  buf.clear();
  return r;
}

HttpResponse http_exchange(std::uint16_t port, const std::string& raw) {
  TcpClient c(port);
  c.send_all(raw);
  std::string buf;
  return read_response(c, buf);
}

}  // namespace spindle::test
