// Parsing and printing the value types of spindle's configuration: durations, listen
// addresses, enumerations. Each parser throws std::invalid_argument with a message that says
// what is wrong and what is expected.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace spindle::config {

using Duration = std::chrono::milliseconds;

/// "250ms", "10s", "2m", "1h", "1.5s", "0": a non-negative amount with a unit (ms, s, m, h);
/// a bare 0 is allowed. Result in milliseconds.
Duration parse_duration(std::string_view text);
/// The shortest exact form: "250ms", "10s", "2m".
std::string format_duration(Duration d);

using FineDuration = std::chrono::microseconds;

/// "50us" (or "50µs"), "1ms", "0": like parse_duration, for settings finer than a
/// millisecond. Result in microseconds.
FineDuration parse_fine_duration(std::string_view text);
/// The shortest exact form: "50us", "2ms".
std::string format_fine_duration(FineDuration d);

/// A listen address: an IPv4 or IPv6 literal (IPv6 in brackets) or "localhost", and a port
/// 0-65535 (0 picks a free port).
struct Endpoint {
  std::string host;
  std::uint16_t port = 0;
  /// "127.0.0.1:7007", "[::1]:7007".
  std::string to_string() const;
  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};
/// "HOST:PORT", "[IPV6]:PORT" or ":PORT" (all IPv4 interfaces).
Endpoint parse_endpoint(std::string_view text);

/// A size in bytes: "4096", "16KiB", "8MiB", "1GiB" (also KB/MB/GB as 1000s).
std::uint64_t parse_size(std::string_view text);
/// The shortest exact form: "16KiB", "8MiB", "1000".
std::string format_size(std::uint64_t bytes);

/// A non-negative integer within [min, max].
std::int64_t parse_integer(std::string_view text, std::int64_t min, std::int64_t max);
/// true/false (also 1/0, yes/no, on/off).
bool parse_bool(std::string_view text);

}  // namespace spindle::config
