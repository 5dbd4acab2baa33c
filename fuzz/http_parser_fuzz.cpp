// libFuzzer target for the HTTP/1.1 request parser and body decoder.
//
// Properties checked on every input:
//   - parsing never crashes, hangs or reads out of bounds (ASan/UBSan);
//   - feeding the bytes one at a time gives exactly the result of feeding them at once
//     (status, error code, head size, method, target, fields);
//   - a body decoder given the bytes after a parsed head, whole or byte by byte, decodes the
//     same body or fails with the same status.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "spindle/http/parser.hpp"

using namespace spindle::http;

namespace {

[[noreturn]] void mismatch(const char* what) {
  __builtin_printf("mismatch: %s\n", what);
  std::abort();
}

struct Outcome {
  HeadStatus status;
  RequestHead head;
  ParseError error;
};

ParserLimits limits() {
  ParserLimits l;
  l.max_request_line = 256;
  l.max_header_bytes = 1024;
  l.max_headers = 16;
  l.max_body = 4096;
  return l;
}

Outcome whole(std::string_view in) {
  HeadParser p(limits());
  Outcome o;
  o.status = p.parse(in, o.head, o.error);
  return o;
}

Outcome bytewise(std::string_view in) {
  HeadParser p(limits());
  Outcome o{HeadStatus::incomplete, {}, {}};
  for (std::size_t n = 1; n <= in.size(); ++n) {
    o.status = p.parse(in.substr(0, n), o.head, o.error);
    if (o.status != HeadStatus::incomplete) break;
  }
  return o;
}

/// Decodes `in` feeding `step` bytes at a time (0: all); returns the body, or sets status.
std::string decode(BodyDecoder d, std::string_view in, std::size_t step, int& status) {
  std::string out;
  status = 0;
  std::size_t offered = step ? std::min(step, in.size()) : in.size();
  std::size_t pos = 0;
  while (!d.done()) {
    std::optional<ParseError> error;
    const std::string_view window = in.substr(pos, offered - pos);
    const auto s = d.feed(window, error);
    if (error) {
      status = error->status;
      return out;
    }
    if (s.data_offset + s.data_size > window.size() || s.consumed > window.size()) mismatch("decoder overran");
    out.append(window.substr(s.data_offset, s.data_size));
    pos += s.consumed;
    if (s.consumed == 0 || pos == offered) {
      if (offered == in.size()) break;
      offered = step ? std::min(offered + step, in.size()) : in.size();
    }
  }
  status = d.done() ? 200 : 1;  // 1: incomplete
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const Outcome a = whole(input), b = bytewise(input);
  if (a.status != b.status) mismatch("status");
  if (a.status == HeadStatus::error && a.error.status != b.error.status) mismatch("error status");
  if (a.status != HeadStatus::complete) return 0;
  if (a.head.head_bytes != b.head.head_bytes || a.head.method != b.head.method ||
      a.head.target != b.head.target || a.head.fields.size() != b.head.fields.size() ||
      a.head.chunked != b.head.chunked || a.head.content_length != b.head.content_length)
    mismatch("head");
  if (a.head.head_bytes > input.size()) mismatch("head beyond input");

  const std::string_view rest = std::string_view(input).substr(a.head.head_bytes);
  auto make = [&] {
    return a.head.chunked ? BodyDecoder::chunked(limits().max_body, 512)
                          : BodyDecoder::fixed(a.head.content_length.value_or(0));
  };
  int s1 = 0, s2 = 0;
  const std::string body1 = decode(make(), rest, 0, s1);
  const std::string body2 = decode(make(), rest, 1, s2);
  if (s1 != s2) mismatch("body status");
  if (s1 == 200 && body1 != body2) mismatch("body bytes");
  if (a.head.chunked && s1 == 200 && body1.size() > limits().max_body) mismatch("body over its limit");
  return 0;
}
