#include "spindle/config/values.hpp"

#include <asio/ip/address.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <initializer_list>
#include <stdexcept>

namespace spindle::config {
namespace {

[[noreturn]] void bad(const std::string& problem) { throw std::invalid_argument(problem); }

std::string quoted(std::string_view s) {
  // Appended piece by piece: GCC 12 warns (-Wrestrict, falsely) on "\"" + std::string(s).
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  out += s;
  out += '"';
  return out;
}

struct TimeUnit {
  std::string_view name;
  double factor;  ///< in the result's unit
};

/// A non-negative amount with one of `units`, in the `finest` unit (whose factor is 1); a
/// bare 0 is allowed. `examples` and `unit_names` go into the messages.
std::int64_t parse_time(std::string_view text, std::initializer_list<TimeUnit> units, std::string_view finest,
                        std::string_view examples, std::string_view unit_names) {
  if (text == "0") return 0;
  std::size_t unit_at = 0;
  while (unit_at < text.size() && (std::isdigit(static_cast<unsigned char>(text[unit_at])) || text[unit_at] == '.'))
    ++unit_at;
  const std::string_view number = text.substr(0, unit_at), unit = text.substr(unit_at);
  if (text.starts_with('-')) bad(quoted(text) + " is negative; durations must be 0 or more");
  if (number.empty() || number.find_first_not_of("0123456789.") != std::string_view::npos ||
      std::count(number.begin(), number.end(), '.') > 1 || number == ".")
    bad(quoted(text) + " is not a duration; use a number and a unit, like " + std::string(examples));
  if (unit.empty()) bad(quoted(text) + " has no unit; use " + std::string(unit_names));
  const TimeUnit* found = nullptr;
  for (const auto& u : units)
    if (u.name == unit) found = &u;
  if (!found) bad(quoted(text) + " has an unknown unit " + quoted(unit) + "; use " + std::string(unit_names));
  double value = 0;
  auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (ec != std::errc() || end != number.data() + number.size()) bad(quoted(text) + " is not a number");
  const double amount = value * found->factor;
  if (amount > 1e12) bad(quoted(text) + " is too long");
  if (amount != std::floor(amount)) bad(quoted(text) + " is finer than a " + std::string(finest));
  return static_cast<std::int64_t>(amount);
}

}  // namespace

Duration parse_duration(std::string_view text) {
  return Duration(parse_time(text, {{"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}}, "millisecond",
                             "250ms, 10s, 2m, 1h", "ms, s, m or h (like 10s)"));
}

FineDuration parse_fine_duration(std::string_view text) {
  return FineDuration(parse_time(text, {{"us", 1}, {"µs", 1}, {"ms", 1000}, {"s", 1'000'000}}, "microsecond",
                                 "50us, 1ms", "us, ms or s (like 50us)"));
}

std::string format_duration(Duration d) {
  const auto ms = d.count();
  if (ms == 0) return "0";
  if (ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

std::string format_fine_duration(FineDuration d) {
  const auto us = d.count();
  if (us != 0 && us % 1000 == 0) return format_duration(Duration(us / 1000));
  return us == 0 ? "0" : std::to_string(us) + "us";
}

std::string Endpoint::to_string() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Endpoint parse_endpoint(std::string_view text) {
  std::string_view host, port;
  if (text.starts_with('[')) {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      bad(quoted(text) + " is not HOST:PORT; an IPv6 host is written [::1]:7007");
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) bad(quoted(text) + " has no port; use HOST:PORT, like 0.0.0.0:7007");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos)
      bad(quoted(text) + " is ambiguous; write an IPv6 host in brackets, like [::1]:7007");
  }
  Endpoint e;
  if (host.empty()) host = "0.0.0.0";
  if (host == "localhost") host = "127.0.0.1";
  asio::error_code ec;
  asio::ip::make_address(std::string(host), ec);
  if (ec) bad(quoted(host) + " is not an IP address (use an IPv4 or IPv6 literal, or localhost)");
  e.host = std::string(host);
  unsigned value = 0;
  auto [end, perr] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || perr != std::errc() || end != port.data() + port.size() || value > 65535)
    bad("port " + quoted(port) + " is not a number from 0 to 65535");
  e.port = static_cast<std::uint16_t>(value);
  return e;
}

std::uint64_t parse_size(std::string_view text) {
  std::size_t unit_at = 0;
  while (unit_at < text.size() && std::isdigit(static_cast<unsigned char>(text[unit_at]))) ++unit_at;
  const std::string_view number = text.substr(0, unit_at), unit = text.substr(unit_at);
  if (number.empty()) bad(quoted(text) + " is not a size; use bytes or a unit, like 16KiB or 8MiB");
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (ec != std::errc()) bad(quoted(text) + " is too large");
  std::uint64_t factor;
  if (unit.empty() || unit == "B") factor = 1;
  else if (unit == "KiB") factor = 1024;
  else if (unit == "MiB") factor = 1024 * 1024;
  else if (unit == "GiB") factor = 1024ull * 1024 * 1024;
  else if (unit == "KB") factor = 1000;
  else if (unit == "MB") factor = 1000 * 1000;
  else if (unit == "GB") factor = 1000ull * 1000 * 1000;
  else bad(quoted(text) + " has an unknown unit " + quoted(unit) + "; use B, KiB, MiB, GiB, KB, MB or GB");
  if (value > (1ull << 62) / factor) bad(quoted(text) + " is too large");
  return value * factor;
}

std::string format_size(std::uint64_t bytes) {
  if (bytes != 0 && bytes % (1024ull * 1024 * 1024) == 0) return std::to_string(bytes >> 30) + "GiB";
  if (bytes != 0 && bytes % (1024 * 1024) == 0) return std::to_string(bytes >> 20) + "MiB";
  if (bytes != 0 && bytes % 1024 == 0) return std::to_string(bytes >> 10) + "KiB";
  return std::to_string(bytes);
}

std::int64_t parse_integer(std::string_view text, std::int64_t min, std::int64_t max) {
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size())
    bad(quoted(text) + " is not a whole number");
  if (value < min || value > max)
    bad(std::to_string(value) + " is out of range " + std::to_string(min) + "-" + std::to_string(max));
  return value;
}

bool parse_bool(std::string_view text) {
  if (text == "true" || text == "1" || text == "yes" || text == "on") return true;
  if (text == "false" || text == "0" || text == "no" || text == "off") return false;
  bad(quoted(text) + " is not true or false");
}

}  // namespace spindle::config
