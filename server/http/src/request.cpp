#include "spindle/http/request.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <random>

#include "exchange.hpp"

namespace spindle::http {
namespace {

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/// "000102...feff": the two hex digits of every byte value. Most requests bring no id, so
/// one is made for each, two digits per step.
constexpr auto hex_pairs = [] {
  constexpr char digits[] = "0123456789abcdef";
  std::array<char, 512> pairs{};
  for (int b = 0; b < 256; ++b) {
    pairs[2 * b] = digits[b >> 4];
    pairs[2 * b + 1] = digits[b & 0xF];
  }
  return pairs;
}();

}  // namespace

std::string percent_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2])));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

Request::Request(const RequestHead& head, Exchange& exchange, const std::string& peer)
    : head_(&head), body_(exchange), peer_(&peer) {
  if (auto given = head.field("x-request-id"); given && !given->empty() && given->size() <= 128 &&
                                                std::ranges::all_of(*given, [](char c) { return c > 0x20 && c < 0x7F; })) {
    given_id_ = *given;
  } else {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    std::uint64_t bits = rng();
    for (std::size_t i = 0; i < sizeof made_id_; i += 2, bits >>= 8)
      std::memcpy(made_id_ + i, hex_pairs.data() + 2 * (bits & 0xFF), 2);
  }
  std::string_view target = head.target;
  if (!target.starts_with('/')) {
    // absolute-form: scheme "://" authority path-abempty [ "?" query ]
    const auto authority = target.find("://");
    const auto path_start = authority == std::string_view::npos ? std::string_view::npos : target.find_first_of("/?", authority + 3);
    target = path_start == std::string_view::npos ? std::string_view("/") : target.substr(path_start);
  }
  const auto q = target.find('?');
  path_ = target.substr(0, q);
  if (path_.empty()) path_ = "/";
  if (q != std::string_view::npos) query_ = target.substr(q + 1);
}

std::optional<std::string> Request::query(std::string_view name) const {
  std::string_view rest = query_;
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    const auto eq = pair.find('=');
    if (percent_decode(pair.substr(0, eq), true) == name)
      return eq == std::string_view::npos ? std::string() : percent_decode(pair.substr(eq + 1), true);
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

std::string_view Request::param(std::string_view name) const noexcept {
  for (const auto& [k, v] : params_)
    if (k == name) return v;
  return {};
}

Task<tcp::IoResult> Body::read(Context ctx, std::span<char> buf, std::source_location where) {
  (void)where;
  co_return co_await exchange_->read_body(ctx, buf);
}

Task<std::string> Body::read_all(Context ctx, std::size_t limit, std::source_location where) {
  std::string out;
  if (auto len = length()) {
    if (*len > limit) throw HttpError(413, "body larger than " + std::to_string(limit) + " bytes");
    out.reserve(static_cast<std::size_t>(*len));
  }
  char chunk[16 * 1024];
  for (;;) {
    const tcp::IoResult r = co_await read(ctx, chunk, where);
    if (r.error) {
      if (ctx.done()) throw ContextError(ctx.err());
      throw HttpError(400, "request body: " + r.error.message());
    }
    if (r.bytes == 0) co_return out;
    if (out.size() + r.bytes > limit) throw HttpError(413, "body larger than " + std::to_string(limit) + " bytes");
    out.append(chunk, r.bytes);
  }
}

std::optional<std::uint64_t> Body::length() const noexcept { return exchange_->body_length(); }
bool Body::done() const noexcept { return exchange_->body_done(); }

Task<std::error_code> ResponseWriter::write(Context ctx, std::span<const char> data) {
  co_return co_await exchange_->write_body(ctx, data);
}

}  // namespace spindle::http
