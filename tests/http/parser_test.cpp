// The HTTP/1.1 parser: every rule, each bad input with its status, and byte-at-a-time
// feeding agreeing with whole-buffer parsing.
#include <string>
#include <vector>

#include "spindle/http/parser.hpp"
#include "support/spindle_test.hpp"

TEST_SUITE_BEGIN("http");

using namespace spindle::http;

namespace {

/// A string literal with embedded NULs, all of it.
template <std::size_t N>
std::string raw(const char (&text)[N]) {
  return std::string(text, N - 1);
}

struct Parsed {
  HeadStatus status;
  RequestHead head;
  ParseError error;
};

Parsed parse(const std::string& text, ParserLimits limits = {}) {
  HeadParser p(limits);
  Parsed r;
  r.status = p.parse(text, r.head, r.error);
  return r;
}

/// Feeds one byte more at a time, as a slow client would send it.
Parsed parse_bytewise(const std::string& text, ParserLimits limits = {}) {
  HeadParser p(limits);
  Parsed r;
  for (std::size_t n = 1; n <= text.size(); ++n) {
    r.status = p.parse(std::string_view(text).substr(0, n), r.head, r.error);
    if (r.status != HeadStatus::incomplete) return r;
  }
  return r;
}

int status_of(const std::string& text, ParserLimits limits = {}) {
  auto r = parse(text, limits);
  auto b = parse_bytewise(text, limits);
  CHECK(r.status == b.status);  // incremental feeding never changes the outcome
  if (r.status == HeadStatus::error) {
    CHECK(b.error.status == r.error.status);
    return r.error.status;
  }
  return r.status == HeadStatus::complete ? 200 : 0;
}

std::string decode(BodyDecoder d, const std::string& in, int& status, std::size_t step = 0) {
  std::string out;
  status = 200;
  std::string_view rest = in;
  std::string pending;
  // step 0: all at once; else `step` bytes per feed
  std::size_t offered = step ? std::min(step, in.size()) : in.size();
  std::string_view window = std::string_view(in).substr(0, offered);
  std::size_t base = 0;
  while (!d.done()) {
    std::optional<ParseError> error;
    auto s = d.feed(window, error);
    if (error) {
      status = error->status;
      return out;
    }
    out.append(window.substr(s.data_offset, s.data_size));
    base += s.consumed;
    window.remove_prefix(s.consumed);
    if (s.consumed == 0 || window.empty()) {
      if (base >= in.size()) break;
      offered = step ? std::min(step, in.size() - base) : in.size() - base;
      window = std::string_view(in).substr(base, offered);
    }
  }
  (void)rest;
  (void)pending;
  if (!d.done()) status = 0;  // incomplete
  return out;
}

}  // namespace

SPINDLE_TEST("a complete request parses, in one piece or a byte at a time") {
  const std::string req =
      "GET /index.html?x=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent:  curl/7.88 \r\n"
      "Accept: */*\r\n\r\nNEXT";
  for (auto r : {parse(req), parse_bytewise(req)}) {
    REQUIRE(r.status == HeadStatus::complete);
    CHECK(r.head.method == "GET");
    CHECK(r.head.target == "/index.html?x=1");
    CHECK(r.head.minor_version == 1);
    CHECK(r.head.keep_alive);
    CHECK(r.head.fields.size() == 3);
    CHECK(r.head.field("user-agent") == "curl/7.88");  // case-insensitive, OWS trimmed
    CHECK(r.head.head_bytes == req.size() - 4);          // stops before the next request
  }
  CHECK(parse("GET / HTTP/1.1\r\nHost: a\r\n").status == HeadStatus::incomplete);
}

SPINDLE_TEST("request line: forms, versions, methods") {
  CHECK(status_of("GET http://a.example/x HTTP/1.1\r\nHost: a.example\r\n\r\n") == 200);  // absolute-form
  CHECK(status_of("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n") == 200);                     // asterisk-form
  CHECK(status_of("GET * HTTP/1.1\r\nHost: a\r\n\r\n") == 400);
  CHECK(status_of("CONNECT a.example:443 HTTP/1.1\r\nHost: a.example\r\n\r\n") == 501);  // authority-form
  CHECK(status_of("GET a.example HTTP/1.1\r\nHost: a\r\n\r\n") == 400);
  CHECK(status_of("GET / HTTP/1.0\r\n\r\n") == 200);  // no Host needed in 1.0
  CHECK(status_of("GET / HTTP/2.0\r\nHost: a\r\n\r\n") == 505);
  CHECK(status_of("GET / HTTP/1.2\r\nHost: a\r\n\r\n") == 505);
  CHECK(status_of("GET / HTTP/1\r\nHost: a\r\n\r\n") == 400);
  CHECK(status_of("GET / http/1.1\r\nHost: a\r\n\r\n") == 400);
  CHECK(status_of("GET  / HTTP/1.1\r\nHost: a\r\n\r\n") == 400);   // two spaces
  CHECK(status_of("GET / HTTP/1.1 \r\nHost: a\r\n\r\n") == 400);   // trailing space
  CHECK(status_of("G(T / HTTP/1.1\r\nHost: a\r\n\r\n") == 400);    // method not a token
  CHECK(status_of("GET /a b HTTP/1.1\r\nHost: a\r\n\r\n") == 400);
  CHECK(status_of("GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n") == 400);
  CHECK(status_of(raw("GET /\0 HTTP/1.1\r\nHost: a\r\n\r\n")) == 400);
  CHECK(status_of("PURGE /cache HTTP/1.1\r\nHost: a\r\n\r\n") == 200);  // any token method
  CHECK(status_of("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n") == 200);   // leading empty lines
}

SPINDLE_TEST("header fields: tokens, no whitespace before the colon, no CTL, no obs-fold") {
  CHECK(status_of("GET / HTTP/1.1\r\nHost : a\r\n\r\n") == 400);
  CHECK(status_of("GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n b\r\n\r\n") == 400);   // obs-fold
  CHECK(status_of("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\x01" "c\r\n\r\n") == 400);
  CHECK(status_of(raw("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\0c\r\n\r\n")) == 400);
  CHECK(status_of("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\tc\r\n\r\n") == 200);  // HTAB is fine
  CHECK(status_of("GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n") == 400);
  CHECK(status_of("GET / HTTP/1.1\r\nHost: a\r\n: empty\r\n\r\n") == 400);
  CHECK(status_of("GET / HTTP/1.1\r\nHost: a\r\nX(A): 1\r\n\r\n") == 400);
  CHECK(status_of("GET / HTTP/1.1\r\nHost: a\r\nX-Latin: caf\xe9\r\n\r\n") == 200);  // obs-text
}

SPINDLE_TEST("Host: required in 1.1, exactly once") {
  CHECK(status_of("GET / HTTP/1.1\r\n\r\n") == 400);
  CHECK(status_of("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n") == 400);
  CHECK(status_of("GET / HTTP/1.1\r\nhOsT: a\r\n\r\n") == 200);
}

SPINDLE_TEST("bare LF and bare CR are refused everywhere in the head") {
  CHECK(status_of("GET / HTTP/1.1\nHost: a\r\n\r\n") == 400);
  CHECK(status_of("GET / HTTP/1.1\r\nHost: a\n\r\n") == 400);
  CHECK(status_of("GET / HTTP/1.1\r\nHost: a\r\n\n") == 400);
  CHECK(status_of("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n") == 400);
  CHECK(status_of("GET / HTTP/1.1\r\rHost: a\r\n\r\n") == 400);
  auto r = parse("GET / HTTP/1.1\r\nHost: a\r\n\n");
  CHECK(r.error.reason.find("bare LF") != std::string::npos);
}

SPINDLE_TEST("Content-Length: digits only, duplicates agree, no overflow, within the limit") {
  auto ok = parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 42\r\n\r\n");
  REQUIRE(ok.status == HeadStatus::complete);
  CHECK(ok.head.content_length == 42u);
  CHECK(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n") == 200);
  CHECK(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n") == 200);
  CHECK(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n") == 400);
  CHECK(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n") == 400);
  CHECK(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n") == 400);
  CHECK(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n") == 400);
  CHECK(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n") == 400);
  CHECK(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n") == 400);
  CHECK(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n") == 400);
  CHECK(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551616\r\n\r\n") == 400);
  ParserLimits small;
  small.max_body = 10;
  CHECK(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n", small) == 413);
}

SPINDLE_TEST("Transfer-Encoding: chunked final, never with Content-Length, not in 1.0") {
  auto ok = parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
  REQUIRE(ok.status == HeadStatus::complete);
  CHECK(ok.head.chunked);
  CHECK(status_of("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n") == 200);
  CHECK(status_of("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n") == 400);
  CHECK(status_of("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n") == 400);
  CHECK(status_of("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n") == 400);
  CHECK(status_of("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n") == 400);
  CHECK(status_of("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n") == 400);
  CHECK(status_of("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n") == 501);
  CHECK(status_of("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n") == 400);
}

SPINDLE_TEST("Connection and keep-alive defaults; Expect") {
  CHECK_FALSE(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").head.keep_alive);
  CHECK_FALSE(parse("GET / HTTP/1.0\r\n\r\n").head.keep_alive);
  CHECK(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").head.keep_alive);
  CHECK_FALSE(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, close\r\n\r\n").head.keep_alive);
  CHECK(parse("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n").head.expect_continue);
  CHECK(status_of("POST / HTTP/1.1\r\nHost: a\r\nExpect: something-else\r\n\r\n") == 417);
}

SPINDLE_TEST("limits: request line 414, head bytes and field count 431") {
  ParserLimits limits;
  limits.max_request_line = 64;
  limits.max_header_bytes = 256;
  limits.max_headers = 5;
  CHECK(status_of("GET /" + std::string(50, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n", limits) == 200);  // 64 bytes
  CHECK(status_of("GET /" + std::string(51, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n", limits) == 414);  // 65
  CHECK(parse("GET /" + std::string(200, 'a'), limits).error.status == 414);  // before the line ends
  CHECK(status_of("GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(300, 'b') + "\r\n\r\n", limits) == 431);
  // The whole head, final CRLF included: 256 bytes pass, 257 do not.
  const std::string head_of_256 = "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(224, 'b') + "\r\n\r\n";
  REQUIRE(head_of_256.size() == 256);
  CHECK(status_of(head_of_256, limits) == 200);
  CHECK(status_of("GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(225, 'b') + "\r\n\r\n", limits) == 431);
  std::string many = "GET / HTTP/1.1\r\nHost: a\r\n";
  for (int i = 0; i < 5; ++i) many += "X" + std::to_string(i) + ": 1\r\n";
  CHECK(status_of(many + "\r\n", limits) == 431);
}

SPINDLE_TEST("chunked bodies: sizes, extensions, trailers, strict CRLF, limits") {
  int status = 0;
  const std::string body = "4\r\nWiki\r\n5;name=value;flag\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-Trailer: 1\r\n\r\n";
  for (std::size_t step : {0u, 1u, 3u}) {
    CAPTURE(step);
    CHECK(decode(BodyDecoder::chunked(1000, 1000), body, status, step) == "Wikipedia in\r\n\r\nchunks.");
    CHECK(status == 200);
  }
  CHECK(decode(BodyDecoder::chunked(1000, 1000), "0\r\n\r\n", status) == "");
  CHECK(status == 200);
  CHECK(decode(BodyDecoder::chunked(1000, 1000), "A\r\n0123456789\r\n0\r\n\r\n", status) == "0123456789");

  auto fails = [&](const std::string& in, std::uint64_t max_body = 1000) {
    decode(BodyDecoder::chunked(max_body, 100), in, status);
    return status;
  };
  CHECK(fails("4\nWiki\r\n0\r\n\r\n") == 400);           // bare LF after size
  CHECK(fails("4\r\nWiki\n0\r\n\r\n") == 400);           // bare LF after data
  CHECK(fails("4\r\nWikiX\r\n0\r\n\r\n") == 400);        // data longer than its size
  CHECK(fails("g\r\n") == 400);                         // not hex
  CHECK(fails("\r\n") == 400);                          // no size
  CHECK(fails("-1\r\n") == 400);
  CHECK(fails("1000000000000000\r\n") == 400);          // 16 hex digits: overflow guard
  CHECK(fails("401\r\n", 1024) == 413);                 // over the body limit
  CHECK(fails("4\r\nWiki\r\n0\r\nBad Trailer\r\n\r\n") == 400);
  CHECK(fails("4\r\nWiki\r\n0\r\nX: " + std::string(200, 'a') + "\r\n\r\n") == 431);
  CHECK(fails("4;ext\x01\r\nWiki\r\n0\r\n\r\n") == 400);

  // Fixed length.
  CHECK(decode(BodyDecoder::fixed(5), "helloEXTRA", status) == "hello");
  CHECK(status == 200);
}

TEST_SUITE_END();
