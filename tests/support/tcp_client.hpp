// A plain blocking TCP client for tests: what a real client of spindle-server does.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace spindle::test {

/// One client connection to 127.0.0.1 (or another IPv4 or IPv6 literal). Every call fails the test
/// helper with std::runtime_error on a socket error or when `timeout` passes.
class TcpClient {
 public:
  /// Connects to host:port; `timeout` bounds every later wait. A `receive_buffer` above 0 is
  /// set as SO_RCVBUF before connecting: shrinking it afterwards would drop data the kernel
  /// already allowed in, and stall both sides in retransmission back-off.
  explicit TcpClient(std::uint16_t port, std::string host = "127.0.0.1",
                     std::chrono::milliseconds timeout = std::chrono::seconds(10), int receive_buffer = 0);
  ~TcpClient();
  TcpClient(TcpClient&& o) noexcept;
  TcpClient& operator=(TcpClient&& o) noexcept;
  TcpClient(const TcpClient&) = delete;
  TcpClient& operator=(const TcpClient&) = delete;

  void send_all(std::string_view data);
  /// Reads exactly n bytes.
  std::string recv_exact(std::size_t n);
  /// Reads until the server closes; returns everything read.
  std::string recv_until_eof();
  /// Reads what arrives, up to `max` bytes; "" at end of stream.
  std::string recv_some(std::size_t max = 65536);
  /// True if the server closed the connection within `within` (reading and dropping data).
  bool closed_by_peer(std::chrono::milliseconds within);
  /// Half-close: no more sends from here.
  void shutdown_write();
  int fd() const noexcept { return fd_; }

 private:
  void wait(short events);
  int fd_ = -1;
  std::chrono::milliseconds timeout_;
};

/// Tries to connect; false if refused or not accepted within `timeout`.
bool can_connect(std::uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds(2));

/// Raises this process's open-file soft limit to its hard limit; returns the new limit.
std::uint64_t raise_fd_limit();

}  // namespace spindle::test
