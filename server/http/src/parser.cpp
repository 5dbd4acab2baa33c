#include "spindle/http/parser.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cstring>

namespace spindle::http {
namespace {

/// A 256-entry table of the bytes `in` says yes to: one load per byte where a parser asks
/// "is this a token character" for every byte of a head.
template <class F>
constexpr std::array<bool, 256> byte_class(F in) {
  std::array<bool, 256> table{};
  for (int c = 0; c < 256; ++c) table[c] = in(static_cast<unsigned char>(c));
  return table;
}

/// RFC 9110 tchar.
constexpr auto token_chars = byte_class([](unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
});
/// VCHAR, SP, HTAB, obs-text: anything but NUL, the other CTLs and DEL.
constexpr auto field_value_chars = byte_class([](unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7F); });

bool is_ows(char c) { return c == ' ' || c == '\t'; }
bool is_tchar(char c) { return token_chars[static_cast<unsigned char>(c)]; }
bool is_field_value_char(char c) { return field_value_chars[static_cast<unsigned char>(c)]; }
/// A request-target byte: visible ASCII, no SP, CTL, DEL or non-ASCII.
bool is_target_char(char c) { return static_cast<unsigned char>(c) - 0x21u < 0x7Fu - 0x21u; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

bool is_token(std::string_view s) { return !s.empty() && std::all_of(s.begin(), s.end(), is_tchar); }

/// Calls f(element) for each comma-separated element of a list value, trimmed, skipping
/// empty ones (RFC 9110 §5.6.1); stops early if f returns false.
template <class F>
bool for_each_element(std::string_view list, F f) {
  while (true) {
    const auto comma = list.find(',');
    const auto element = trim(list.substr(0, comma));
    if (!element.empty() && !f(element)) return false;
    if (comma == std::string_view::npos) return true;
    list.remove_prefix(comma + 1);
  }
}

/// Content-Length: 1*DIGIT, within 19 digits (fits uint64 without overflow).
std::optional<std::uint64_t> parse_length(std::string_view s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

constexpr std::size_t max_chunk_line = 4096;  // a chunk-size line with its extensions

/// The position of the first CR or LF in data[i, stop), or stop. Eight bytes at a time: a
/// word has a byte equal to b exactly when (w ^ b...b) has a zero byte, which the classic
/// (v - 0x01...) & ~v & 0x80... test finds without false positives.
std::size_t find_line_byte(std::string_view data, std::size_t i, std::size_t stop) noexcept {
  constexpr std::uint64_t ones = 0x0101010101010101, highs = 0x8080808080808080;
  constexpr std::uint64_t crs = ones * '\r', lfs = ones * '\n';
  for (; i + 8 <= stop; i += 8) {
    std::uint64_t w;
    std::memcpy(&w, data.data() + i, 8);
    const std::uint64_t cr = w ^ crs, lf = w ^ lfs;
    if (((cr - ones) & ~cr & highs) | ((lf - ones) & ~lf & highs)) break;
  }
  while (i < stop && data[i] != '\r' && data[i] != '\n') ++i;
  return i;
}

/// The position of the first byte from i on that may not be in a field value: a CTL other
/// than HTAB (the value's CR at the latest), or DEL. Eight bytes at a time while they are in
/// `text`: (w - 0x20...) & ~w & 0x80... marks the bytes below 0x20, exactly up to the first
/// one (borrows only run upwards), so its lowest mark is the first such byte; DEL likewise.
std::size_t skip_field_value(std::string_view text, std::size_t i) noexcept {
  constexpr std::uint64_t ones = 0x0101010101010101, highs = 0x8080808080808080;
  if constexpr (std::endian::native == std::endian::little) {
    while (i + 8 <= text.size()) {
      std::uint64_t w;
      std::memcpy(&w, text.data() + i, 8);
      const std::uint64_t del = w ^ (ones * 0x7F);
      const std::uint64_t marks = ((w - ones * 0x20) & ~w & highs) | ((del - ones) & ~del & highs);
      if (marks == 0) {
        i += 8;
        continue;
      }
      i += static_cast<std::size_t>(std::countr_zero(marks)) / 8;
      if (text[i] != '\t') return i;
      ++i;  // HTAB is allowed
    }
  }
  while (is_field_value_char(text[i])) ++i;
  return i;
}

/// Why a request line (up to its CR) that is not `token SP target SP HTTP/1.0|1.1` is
/// refused: the first rule it breaks, in the order the rules are documented.
ParseError request_line_error(std::string_view line) {
  const auto sp1 = line.find(' ');
  const auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos)
    return {400, "malformed request line"};
  const std::string_view method = line.substr(0, sp1), target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (!is_token(method)) return {400, "invalid method"};
  if (target.empty()) return {400, "empty request target"};
  if (!std::all_of(target.begin(), target.end(), is_target_char)) return {400, "invalid character in request target"};
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || !std::isdigit(static_cast<unsigned char>(version[5])) ||
      version[6] != '.' || !std::isdigit(static_cast<unsigned char>(version[7])))
    return {400, "malformed HTTP version"};
  // Well-formed, so only the version number differs from what the caller accepts.
  return {505, "HTTP version not supported (HTTP/1.0 and HTTP/1.1 are)"};
}

/// Why a header line (up to its CR) that does not start with `token ":"` is refused.
const char* field_name_error(std::string_view line) {
  if (is_ows(line.front())) return "obsolete line folding in header";
  if (line.find(':') == std::string_view::npos) return "header line without a colon";
  return "invalid header name (whitespace before ':'?)";
}

}  // namespace

bool is_token_char(unsigned char c) noexcept { return token_chars[c]; }

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    unsigned char x = static_cast<unsigned char>(a[i]), y = static_cast<unsigned char>(b[i]);
    if (x >= 'A' && x <= 'Z') x |= 0x20;
    if (y >= 'A' && y <= 'Z') y |= 0x20;
    if (x != y) return false;
  }
  return true;
}

std::optional<std::string_view> RequestHead::field(std::string_view name) const noexcept {
  for (const auto& f : fields)
    if (iequals(f.name, name)) return f.value;
  return std::nullopt;
}

HeadStatus HeadParser::fail(ParseError& error, int status, std::string reason) {
  error = {status, std::move(reason)};
  return HeadStatus::error;
}

HeadStatus HeadParser::parse(std::string_view data, RequestHead& head, ParseError& error) {
  // Empty lines before a request line are ignored (RFC 9112 §2.2), a few at most.
  std::size_t start = 0;
  while (start + 1 < data.size() && start < 8 && data[start] == '\r' && data[start + 1] == '\n') start += 2;

  // Usually a read brings one whole head and nothing after it. Then the head is parsed
  // straight away, skipping the scan below: when parse_lines accepts it, every line of it ended
  // in CRLF, and it is within the limits as the scan applies them (the request line up to
  // max_request_line bytes, the whole head up to max_header_bytes), so the
  // scan would have found no fault and this same end. Anything else takes the scan, which
  // names the first fault: a later bare CR or LF outranks an earlier bad header, say.
  if (data.size() >= start + 4 && data.ends_with("\r\n\r\n")) {
    std::size_t end = 0;
    if (parse_lines(data.substr(start), head, error, end) == HeadStatus::complete &&
        head.method.size() + head.target.size() + 10 <= limits_.max_request_line &&
        end <= limits_.max_header_bytes) {
      scanned_ = head.head_bytes = start + end;
      return HeadStatus::complete;
    }
  }

  for (std::size_t i = std::max(scanned_, start); i < data.size(); ++i) {
    if (i == start || data[i - 1] != '\r') {
      // Up to the next CR or LF, or the next limit, no check below can fail: skip there.
      const std::size_t limit =
          start + (line_end_seen_ ? limits_.max_header_bytes
                                  : std::min(limits_.max_request_line + 1, limits_.max_header_bytes));
      const std::size_t stop = std::min(data.size(), std::max(limit, i));
      i = find_line_byte(data, i, stop);
      if (i == data.size()) break;
    }
    if (i - start >= limits_.max_header_bytes)
      return fail(error, 431, "request head larger than " + std::to_string(limits_.max_header_bytes) + " bytes");
    const char c = data[i];
    if (i > start && data[i - 1] == '\r' && c != '\n') return fail(error, 400, "bare CR in request head");
    if (c == '\n') {
      if (i == start || data[i - 1] != '\r') return fail(error, 400, "bare LF in request head");
      line_end_seen_ = true;
      if (i - start >= 3 && data[i - 2] == '\n') {  // "\r\n\r\n": the head is complete
        scanned_ = i + 1;
        head.head_bytes = i + 1;
        std::size_t end = 0;
        return parse_lines(data.substr(start, i + 1 - start), head, error, end);
      }
    }
    if (!line_end_seen_ && i - start >= limits_.max_request_line + 1)
      return fail(error, 414, "request line longer than " + std::to_string(limits_.max_request_line) + " bytes");
  }
  scanned_ = data.size();
  return HeadStatus::incomplete;
}

HeadStatus HeadParser::parse_lines(std::string_view text, RequestHead& head, ParseError& error, std::size_t& end) {
  head.fields.clear();
  head.chunked = false;
  head.content_length.reset();
  head.expect_continue = false;
  // Every scan below stops at a CR at the latest (none of the byte classes holds CR), and
  // text ends in CRLFCRLF: no scan runs past its end, and after a CR there is one more byte.
  const char* const p = text.data();

  // Request line: method SP request-target SP HTTP-version CRLF, in one pass; a line of any
  // other shape is looked at again to say which rule it breaks.
  std::size_t i = 0;
  while (is_tchar(p[i])) ++i;
  const std::size_t method_end = i;
  if (i > 0 && p[i] == ' ') ++i;
  const std::size_t target_start = i;
  while (is_target_char(p[i])) ++i;
  const std::size_t target_end = i;
  if (method_end == 0 || target_start != method_end + 1 || target_end == target_start || p[i] != ' ' ||
      text.size() - i < 10 || std::memcmp(p + i + 1, "HTTP/1.", 7) != 0 || (p[i + 8] != '0' && p[i + 8] != '1') ||
      p[i + 9] != '\r') {
    const ParseError e = request_line_error(text.substr(0, text.find('\r')));
    return fail(error, e.status, e.reason);
  }
  if (p[i + 10] != '\n') return fail(error, 400, "bare CR in request head");
  head.method = text.substr(0, method_end);
  head.target = text.substr(target_start, target_end - target_start);
  head.minor_version = p[i + 8] - '0';
  std::size_t pos = i + 11;

  if (head.method == "CONNECT") return fail(error, 501, "CONNECT is not supported");
  const std::string_view target = head.target;
  const bool origin_form = target.front() == '/';
  const bool asterisk_form = target == "*";
  const auto scheme_end = origin_form || asterisk_form ? std::string_view::npos : target.find("://");
  const bool absolute_form = scheme_end != std::string_view::npos && scheme_end > 0 &&
                             std::isalpha(static_cast<unsigned char>(target.front()));
  if (asterisk_form && head.method != "OPTIONS") return fail(error, 400, "'*' target is only for OPTIONS");
  if (!origin_form && !asterisk_form && !absolute_form) return fail(error, 400, "malformed request target");

  // Header fields: token ":" OWS value OWS CRLF each, each scanned once, up to the blank line.
  int hosts = 0;
  bool any_length = false, any_te = false;
  std::uint64_t length = 0;
  head.keep_alive = head.minor_version == 1;
  bool keep_alive_token = false, close_token = false;
  while (p[pos] != '\r') {
    const std::size_t name_start = pos;
    while (is_tchar(p[pos])) ++pos;
    if (pos == name_start || p[pos] != ':')
      return fail(error, 400, field_name_error(text.substr(name_start, text.find('\r', name_start) - name_start)));
    const std::string_view name = text.substr(name_start, pos - name_start);
    ++pos;
    while (is_ows(p[pos])) ++pos;
    const std::size_t value_start = pos;
    pos = skip_field_value(text, pos);
    if (p[pos] != '\r') return fail(error, 400, "invalid character in header " + std::string(name));
    if (p[pos + 1] != '\n') return fail(error, 400, "bare CR in request head");
    std::size_t value_end = pos;
    while (value_end > value_start && is_ows(p[value_end - 1])) --value_end;
    const std::string_view value = text.substr(value_start, value_end - value_start);
    pos += 2;
    if (head.fields.size() == limits_.max_headers)
      return fail(error, 431, "more than " + std::to_string(limits_.max_headers) + " header fields");
    head.fields.push_back({name, value});

    if (iequals(name, "host")) {
      ++hosts;
    } else if (iequals(name, "content-length")) {
      bool ok = for_each_element(value, [&](std::string_view element) {
        auto v = parse_length(element);
        if (!v || (any_length && *v != length)) return false;
        length = *v;
        any_length = true;
        return true;
      });
      if (!ok || !any_length) return fail(error, 400, "invalid or conflicting Content-Length");
    } else if (iequals(name, "transfer-encoding")) {
      any_te = true;
      bool ok = for_each_element(value, [&](std::string_view coding) {
        if (head.chunked) return false;  // anything after chunked, or chunked twice
        if (iequals(coding, "chunked")) head.chunked = true;
        return true;
      });
      if (!ok) return fail(error, 400, "chunked must be the final transfer coding, once");
    } else if (iequals(name, "connection")) {
      for_each_element(value, [&](std::string_view option) {
        if (iequals(option, "close")) close_token = true;
        if (iequals(option, "keep-alive")) keep_alive_token = true;
        return true;
      });
    } else if (iequals(name, "expect")) {
      if (!iequals(value, "100-continue")) return fail(error, 417, "unsupported expectation");
      head.expect_continue = head.minor_version == 1;
    }
  }
  if (p[pos + 1] != '\n') return fail(error, 400, "bare CR in request head");
  end = pos + 2;

  if (head.minor_version == 1 && hosts == 0) return fail(error, 400, "missing Host header");
  if (hosts > 1) return fail(error, 400, "more than one Host header");
  if (any_te) {
    if (head.minor_version == 0) return fail(error, 400, "Transfer-Encoding in an HTTP/1.0 request");
    if (any_length) return fail(error, 400, "both Transfer-Encoding and Content-Length");
    if (!head.chunked) return fail(error, 400, "chunked must be the final transfer coding");
    // Only chunked itself is supported: other codings before it would need decoding.
    if (auto te = head.field("transfer-encoding"); te && !iequals(trim(*te), "chunked"))
      return fail(error, 501, "only the chunked transfer coding is supported");
  }
  if (any_length) {
    if (length > limits_.max_body)
      return fail(error, 413, "body larger than " + std::to_string(limits_.max_body) + " bytes");
    head.content_length = length;
  }
  if (close_token) head.keep_alive = false;
  else if (head.minor_version == 0 && keep_alive_token) head.keep_alive = true;
  return HeadStatus::complete;
}

// ---------------------------------------------------------------- bodies

BodyDecoder BodyDecoder::fixed(std::uint64_t length) noexcept {
  BodyDecoder d;
  d.state_ = length ? State::fixed : State::done;
  d.remaining_ = length;
  return d;
}

BodyDecoder BodyDecoder::chunked(std::uint64_t max_body, std::size_t max_trailer_bytes) noexcept {
  BodyDecoder d;
  d.state_ = State::size;
  d.max_body_ = max_body;
  d.max_trailer_ = max_trailer_bytes;
  return d;
}

BodyDecoder::Step BodyDecoder::feed(std::string_view in, std::optional<ParseError>& error) {
  Step step;
  auto fail = [&](int status, const char* reason) {
    error = ParseError{status, reason};
    return step;
  };
  std::size_t i = 0;
  while (i < in.size() && state_ != State::done) {
    const char c = in[i];
    switch (state_) {
      case State::fixed:
      case State::data: {
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, in.size() - i));
        step.data_offset = i;
        step.data_size = n;
        remaining_ -= n;
        decoded_ += n;
        i += n;
        if (remaining_ == 0) state_ = state_ == State::fixed ? State::done : State::data_cr;
        step.consumed = i;
        return step;  // one run of body bytes per step
      }
      case State::size:
        if (const int h = hex_value(c); h >= 0) {
          if (++size_digits_ > 15) return fail(400, "chunk size too large");
          remaining_ = remaining_ * 16 + static_cast<unsigned>(h);
        } else if (size_digits_ == 0) {
          return fail(400, "malformed chunk size");
        } else if (c == ';' || is_ows(c)) {
          state_ = State::size_ext;
        } else if (c == '\r') {
          state_ = State::size_lf;
        } else {
          return fail(400, "malformed chunk size");
        }
        if (++line_bytes_ > max_chunk_line) return fail(400, "chunk size line too long");
        ++i;
        break;
      case State::size_ext:
        // chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ): accepted, not used.
        if (c == '\r') state_ = State::size_lf;
        else if (c == '\n' || (static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7F)
          return fail(400, "invalid character in chunk extension");
        if (++line_bytes_ > max_chunk_line) return fail(400, "chunk extension too long");
        ++i;
        break;
      case State::size_lf:
        if (c != '\n') return fail(400, "chunk size line not ended by CRLF");
        ++i;
        line_bytes_ = 0;
        size_digits_ = 0;
        if (remaining_ == 0) {
          state_ = State::trailer_line;
          line_empty_ = true;
        } else {
          if (remaining_ > max_body_ - decoded_ || decoded_ > max_body_)
            return fail(413, "chunked body larger than the limit");
          state_ = State::data;
        }
        break;
      case State::data_cr:
        if (c != '\r') return fail(400, "chunk data not followed by CRLF");
        state_ = State::data_lf;
        ++i;
        break;
      case State::data_lf:
        if (c != '\n') return fail(400, "chunk data not followed by CRLF");
        state_ = State::size;
        ++i;
        break;
      case State::trailer_line:
        // trailer-field = field-name ":" OWS field-value OWS, like a header field.
        if (++trailer_bytes_ > max_trailer_) return fail(431, "trailer section too large");
        if (c == '\r') {
          if (!line_empty_ && !trailer_colon_) return fail(400, "trailer line without a colon");
          state_ = State::trailer_lf;
        } else if (c == '\n' || (static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7F) {
          return fail(400, "invalid character in trailer");
        } else if (!trailer_colon_) {
          if (c == ':' && !line_empty_) trailer_colon_ = true;
          else if (!is_token_char(static_cast<unsigned char>(c))) return fail(400, "invalid trailer field name");
          line_empty_ = false;
        }
        ++i;
        break;
      case State::trailer_lf:
        if (c != '\n') return fail(400, "trailer line not ended by CRLF");
        ++i;
        if (line_empty_) {
          state_ = State::done;
        } else {
          state_ = State::trailer_line;
          line_empty_ = true;
          trailer_colon_ = false;
        }
        break;
      case State::done:
        break;
    }
  }
  step.consumed = i;
  return step;
}

}  // namespace spindle::http
