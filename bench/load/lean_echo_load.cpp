// lean_echo_load: a closed-loop TCP echo load generator that costs as little per round trip as
// a client can — one thread, epoll, one send and one recv per round trip — so that the server,
// not the client, sets the pace. The Go client (bench/reference/go/echo_load.go) saturates its
// core first against every fast server, which makes each server's CPU per round trip the
// client's pace rather than its own cost.
//
// Usage: lean_echo_load -addr 127.0.0.1:PORT [-conns 64] [-size 64] [-warmup 1] [-duration 10]
//   (durations in seconds; "1s" is accepted too). Every connection keeps one message in flight,
//   checks that each echo matches it byte for byte (an 8-byte sequence number leads each
//   message) and sends the next at once. Prints one line in echo_load's format:
//   echo_load conns=.. size=.. duration_s=.. round_trips=.. rt_per_s=.. p50_us=.. p90_us=..
//   p99_us=.. p999_us=.. max_us=.. errors=..
// Exit 0 when round trips were measured and none failed, 1 otherwise, 2 on bad arguments.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  sockaddr_in addr{};
  int conns = 64;
  std::size_t size = 64;
  double warmup_s = 1;
  double duration_s = 10;
};

[[noreturn]] void usage(const char* problem) {
  std::fprintf(stderr,
               "lean_echo_load: %s\nusage: lean_echo_load -addr HOST:PORT [-conns N] [-size BYTES] "
               "[-warmup SECONDS] [-duration SECONDS]\n",
               problem);
  std::exit(2);
}

double parse_seconds(std::string_view text) {
  std::string s(text);
  if (!s.empty() && s.back() == 's') s.pop_back();
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || *end != '\0' || !(v >= 0)) usage("a duration is a number of seconds");
  return v;
}

long parse_count(std::string_view text, long min, long max) {
  std::string s(text);
  char* end = nullptr;
  const long v = std::strtol(s.c_str(), &end, 10);
  if (s.empty() || *end != '\0' || v < min || v > max) usage("a count is out of range");
  return v;
}

Options parse(int argc, char** argv) {
  Options o;
  bool have_addr = false;
  for (int i = 1; i < argc; i += 2) {
    std::string_view flag = argv[i];
    while (flag.starts_with('-')) flag.remove_prefix(1);
    if (i + 1 >= argc) usage("every flag takes a value");
    const std::string_view value = argv[i + 1];
    if (flag == "addr") {
      const auto colon = value.rfind(':');
      if (colon == std::string_view::npos) usage("-addr is HOST:PORT (IPv4)");
      const std::string host(value.substr(0, colon));
      o.addr.sin_family = AF_INET;
      o.addr.sin_port = htons(static_cast<uint16_t>(parse_count(value.substr(colon + 1), 1, 65535)));
      if (::inet_pton(AF_INET, host.c_str(), &o.addr.sin_addr) != 1) usage("-addr is HOST:PORT (IPv4)");
      have_addr = true;
    } else if (flag == "conns") {
      o.conns = static_cast<int>(parse_count(value, 1, 100000));
    } else if (flag == "size") {
      o.size = static_cast<std::size_t>(parse_count(value, 1, 16 << 20));
    } else if (flag == "warmup") {
      o.warmup_s = parse_seconds(value);
    } else if (flag == "duration") {
      o.duration_s = parse_seconds(value);
      if (o.duration_s <= 0) usage("-duration must be above 0");
    } else {
      usage(("unknown flag -" + std::string(flag)).c_str());
    }
  }
  if (!have_addr) usage("-addr is required");
  return o;
}

/// One connection with one message in flight.
struct Connection {
  int fd = -1;
  std::vector<char> message;  // what was sent last
  std::vector<char> echo;     // what came back of it so far
  std::size_t sent = 0;       // bytes of `message` written
  std::size_t received = 0;   // bytes of `echo` read
  uint64_t sequence = 0;
  Clock::time_point sent_at;
  bool waiting_writable = false;
};

class Load {
 public:
  explicit Load(const Options& o) : o_(o), epoll_(::epoll_create1(EPOLL_CLOEXEC)) {
    if (epoll_ < 0) fail("epoll_create1");
  }

  /// Opens every connection; false (with a message) if one could not be opened.
  bool connect_all() {
    conns_.resize(static_cast<std::size_t>(o_.conns));
    for (std::size_t i = 0; i < conns_.size(); ++i) {
      Connection& c = conns_[i];
      c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (c.fd < 0) return error("socket", i);
      if (::connect(c.fd, reinterpret_cast<const sockaddr*>(&o_.addr), sizeof o_.addr) != 0) return error("connect", i);
      const int one = 1;
      ::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      ::fcntl(c.fd, F_SETFL, ::fcntl(c.fd, F_GETFL) | O_NONBLOCK);
      c.message.resize(o_.size);
      for (std::size_t j = 0; j < o_.size; ++j) c.message[j] = static_cast<char>('a' + (i + j) % 26);
      c.echo.resize(o_.size);
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = i;
      if (::epoll_ctl(epoll_, EPOLL_CTL_ADD, c.fd, &ev) != 0) return error("epoll_ctl", i);
      ++live_;
    }
    return true;
  }

  /// Runs the warm-up and the measured window; returns the result line's exit status.
  int run() {
    const auto start = Clock::now();
    measure_from_ = start + seconds(o_.warmup_s);
    measure_until_ = measure_from_ + seconds(o_.duration_s);
    latencies_ns_.reserve(static_cast<std::size_t>(std::min(o_.duration_s * 200000, 5e7)));
    for (std::size_t i = 0; i < conns_.size(); ++i) send_next(i, start);
    std::vector<epoll_event> events(1024);
    Clock::time_point now = start;
    while (now < measure_until_ && live_ > 0) {
      const int n = ::epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), 100);
      if (n < 0 && errno != EINTR) fail("epoll_wait");
      now = Clock::now();
      for (int k = 0; k < n; ++k) {
        const auto i = static_cast<std::size_t>(events[k].data.u64);
        if (conns_[i].fd < 0) continue;
        if (events[k].events & EPOLLOUT) write_rest(i);
        if (conns_[i].fd >= 0 && (events[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP))) read_echo(i, now);
      }
    }
    report(std::max(0.0, std::chrono::duration<double>(std::min(now, measure_until_) - measure_from_).count()));
    if (round_trips_ == 0) std::fprintf(stderr, "lean_echo_load: no round trip completed in the measured window\n");
    return errors_ == 0 && round_trips_ > 0 ? 0 : 1;
  }

 private:
  static Clock::duration seconds(double s) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
  }

  [[noreturn]] static void fail(const char* what) {
    std::fprintf(stderr, "lean_echo_load: %s: %s\n", what, std::strerror(errno));
    std::exit(1);
  }

  bool error(const char* what, std::size_t i) {
    std::fprintf(stderr, "lean_echo_load: connection %zu: %s: %s\n", i, what, std::strerror(errno));
    ++errors_;
    return false;
  }

  void drop(std::size_t i, const char* why) {
    std::fprintf(stderr, "lean_echo_load: connection %zu: %s\n", i, why);
    ++errors_;
    ::close(conns_[i].fd);
    conns_[i].fd = -1;
    --live_;
  }

  void send_next(std::size_t i, Clock::time_point now) {
    Connection& c = conns_[i];
    ++c.sequence;
    if (o_.size >= sizeof c.sequence) std::memcpy(c.message.data(), &c.sequence, sizeof c.sequence);
    c.sent = 0;
    c.received = 0;
    c.sent_at = now;
    write_rest(i);
  }

  void write_rest(std::size_t i) {
    Connection& c = conns_[i];
    while (c.sent < c.message.size()) {
      const ssize_t n = ::send(c.fd, c.message.data() + c.sent, c.message.size() - c.sent, MSG_NOSIGNAL);
      if (n > 0) {
        c.sent += static_cast<std::size_t>(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return want_writable(i, true);
      } else {
        return drop(i, std::strerror(errno));
      }
    }
    if (c.waiting_writable) want_writable(i, false);
  }

  void want_writable(std::size_t i, bool on) {
    Connection& c = conns_[i];
    c.waiting_writable = on;
    epoll_event ev{};
    ev.events = EPOLLIN | (on ? EPOLLOUT : 0u);
    ev.data.u64 = i;
    if (::epoll_ctl(epoll_, EPOLL_CTL_MOD, c.fd, &ev) != 0) drop(i, "epoll_ctl failed");
  }

  void read_echo(std::size_t i, Clock::time_point now) {
    Connection& c = conns_[i];
    const ssize_t n = ::recv(c.fd, c.echo.data() + c.received, c.echo.size() - c.received, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    if (n < 0) return drop(i, std::strerror(errno));
    if (n == 0) return drop(i, "closed by the server");
    c.received += static_cast<std::size_t>(n);
    if (c.received > c.sent) return drop(i, "more bytes came back than were sent");
    if (c.received < c.message.size()) return;
    if (c.echo != c.message) return drop(i, "echo mismatch");
    // A round trip ends when epoll reported its batch (one clock read per batch) and the next
    // starts when it is sent.
    if (c.sent_at >= measure_from_ && now < measure_until_) {
      ++round_trips_;
      latencies_ns_.push_back(static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(now - c.sent_at).count()));
    }
    send_next(i, Clock::now());
  }

  void report(double elapsed) {
    std::sort(latencies_ns_.begin(), latencies_ns_.end());
    auto us = [&](double q) {
      if (latencies_ns_.empty()) return 0.0;
      const auto k = std::min(latencies_ns_.size() - 1, static_cast<std::size_t>(q * static_cast<double>(latencies_ns_.size())));
      return static_cast<double>(latencies_ns_[k]) / 1e3;
    };
    const double max_us = latencies_ns_.empty() ? 0.0 : static_cast<double>(latencies_ns_.back()) / 1e3;
    std::printf("echo_load conns=%d size=%zu duration_s=%.3f round_trips=%lu rt_per_s=%.1f p50_us=%.1f p90_us=%.1f "
                "p99_us=%.1f p999_us=%.1f max_us=%.1f errors=%lu client=lean\n",
                o_.conns, o_.size, elapsed, round_trips_, elapsed > 0 ? static_cast<double>(round_trips_) / elapsed : 0.0,
                us(0.50), us(0.90), us(0.99), us(0.999), max_us, errors_);
  }

  const Options o_;
  const int epoll_;
  std::vector<Connection> conns_;
  long live_ = 0;
  Clock::time_point measure_from_;   // round trips sent from here
  Clock::time_point measure_until_;  // and ended before here are measured
  unsigned long round_trips_ = 0;
  unsigned long errors_ = 0;
  std::vector<uint64_t> latencies_ns_;
};

}  // namespace

int main(int argc, char** argv) {
  Load load(parse(argc, argv));
  if (!load.connect_all()) return 1;
  return load.run();
}
