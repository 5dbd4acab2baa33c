#include "support/tcp_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace spindle::test {
namespace {

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

}  // namespace

TcpClient::TcpClient(std::uint16_t port, std::string host, std::chrono::milliseconds timeout, int receive_buffer)
    : timeout_(timeout) {
  const bool v6 = host.find(':') != std::string::npos;
  fd_ = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) fail("socket");
  if (receive_buffer > 0 && ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer) != 0) {
    ::close(std::exchange(fd_, -1));
    fail("SO_RCVBUF");
  }
  sockaddr_storage storage{};
  socklen_t len;
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&storage);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    ::inet_pton(AF_INET6, host.c_str(), &a->sin6_addr);
    len = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&storage);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    ::inet_pton(AF_INET, host.c_str(), &a->sin_addr);
    len = sizeof *a;
  }
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&storage), len) != 0) {
    const int e = errno;
    ::close(fd_);
    fd_ = -1;
    errno = e;
    fail("connect to port " + std::to_string(port));
  }
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

TcpClient::~TcpClient() {
  if (fd_ >= 0) ::close(fd_);
}

TcpClient::TcpClient(TcpClient&& o) noexcept : fd_(o.fd_), timeout_(o.timeout_) { o.fd_ = -1; }

TcpClient& TcpClient::operator=(TcpClient&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(o.fd_, -1);
    timeout_ = o.timeout_;
  }
  return *this;
}

void TcpClient::wait(short events) {
  pollfd p{fd_, events, 0};
  const int n = ::poll(&p, 1, static_cast<int>(timeout_.count()));
  if (n == 0) throw std::runtime_error("timed out waiting on the socket");
  if (n < 0) fail("poll");
}

void TcpClient::send_all(std::string_view data) {
  while (!data.empty()) {
    wait(POLLOUT);
    const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      fail("send");
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

std::string TcpClient::recv_exact(std::size_t n) {
  std::string out;
  while (out.size() < n) {
    std::string part = recv_some(n - out.size());
    if (part.empty()) throw std::runtime_error("connection closed after " + std::to_string(out.size()) + " of " + std::to_string(n) + " bytes");
    out += part;
  }
  return out;
}

std::string TcpClient::recv_some(std::size_t max) {
  std::string buf(max, '\0');
  for (;;) {
    wait(POLLIN);
    const ssize_t n = ::recv(fd_, buf.data(), buf.size(), MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      fail("recv");
    }
    buf.resize(static_cast<std::size_t>(n));
    return buf;
  }
}

std::string TcpClient::recv_until_eof() {
  std::string out;
  for (;;) {
    std::string part = recv_some();
    if (part.empty()) return out;
    out += part;
  }
}

bool TcpClient::closed_by_peer(std::chrono::milliseconds within) {
  const auto until = std::chrono::steady_clock::now() + within;
  char buf[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    const ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0) return true;
    if (n < 0 && errno != EAGAIN && errno != EINTR) return true;  // reset counts as closed
  }
}

void TcpClient::shutdown_write() {
  if (::shutdown(fd_, SHUT_WR) != 0) fail("shutdown");
}

bool can_connect(std::uint16_t port, std::chrono::milliseconds timeout) {
  try {
    TcpClient c(port, "127.0.0.1", timeout);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

std::uint64_t raise_fd_limit() {
  rlimit r{};
  ::getrlimit(RLIMIT_NOFILE, &r);
  r.rlim_cur = r.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &r);
  ::getrlimit(RLIMIT_NOFILE, &r);
  return r.rlim_cur;
}

}  // namespace spindle::test
