// libFuzzer target for the chunked transfer-coding decoder (http::BodyDecoder::chunked),
// driven directly rather than through a request head, so every input is body framing.
//
// The first input byte picks one of two modes:
//
//   decode (even): the rest is a chunked stream as a client might send it, decoded under
//   limits taken from the next two bytes. Fed whole, one byte at a time and in uneven
//   slices, the decoder must reach the same outcome: the same body bytes, the same error
//   status, and -- when the body ends -- the same end position, since that is where the next
//   pipelined request starts (two readings of one stream that disagree on it are how request
//   smuggling happens). Body data must never exceed the body limit.
//
//   round trip (odd): the rest is a payload. It is chunked with sizes, hex case, leading
//   zeros, extensions and trailers chosen from the payload, followed by a pipelined request.
//   Decoding must give the payload back exactly, stop right before the next request, and a
//   body limit one byte short of the payload must give 413.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "spindle/http/parser.hpp"

using spindle::http::BodyDecoder;
using spindle::http::ParseError;

namespace {

[[noreturn]] void mismatch(const char* what) {
  __builtin_printf("mismatch: %s\n", what);
  std::abort();
}

struct Outcome {
  std::string body;
  int status = 0;            // 200 done, 0 incomplete, else the error status
  std::size_t consumed = 0;  // input bytes used when the decoder stopped
};

/// Feeds `in` in slices whose lengths come from `next_slice()` (0 means "all that is left").
template <class Slices>
Outcome decode(BodyDecoder d, std::string_view in, Slices next_slice, std::uint64_t max_body) {
  Outcome o;
  std::size_t offered = 0;  // bytes made available so far, as if they had arrived
  auto offer_more = [&] {
    const std::size_t n = next_slice();
    offered = n == 0 ? in.size() : std::min(in.size(), offered + n);
  };
  offer_more();
  while (!d.done()) {
    std::optional<ParseError> error;
    const std::string_view window = in.substr(o.consumed, offered - o.consumed);
    const BodyDecoder::Step s = d.feed(window, error);
    if (error) {
      if (error->status != 400 && error->status != 413 && error->status != 431) mismatch("unexpected error status");
      if (error->reason.empty()) mismatch("error without a reason");
      o.status = error->status;
      return o;
    }
    if (s.consumed > window.size() || s.data_offset + s.data_size > window.size()) mismatch("step beyond its input");
    if (s.data_size > 0 && s.data_offset + s.data_size > s.consumed) mismatch("data not consumed");
    o.body.append(window.substr(s.data_offset, s.data_size));
    o.consumed += s.consumed;
    if (d.decoded() != o.body.size()) mismatch("decoded() differs from the data handed out");
    if (o.body.size() > max_body) mismatch("body over its limit");
    if (s.consumed == 0 || o.consumed == offered) {
      if (offered == in.size()) break;
      offer_more();
    }
  }
  o.status = d.done() ? 200 : 0;
  return o;
}

Outcome decode_whole(std::string_view in, std::uint64_t max_body, std::size_t max_trailer) {
  return decode(BodyDecoder::chunked(max_body, max_trailer), in, [] { return std::size_t{0}; }, max_body);
}

Outcome decode_bytewise(std::string_view in, std::uint64_t max_body, std::size_t max_trailer) {
  return decode(BodyDecoder::chunked(max_body, max_trailer), in, [] { return std::size_t{1}; }, max_body);
}

/// Slices of 1 to 17 bytes in a pattern drawn from `seed`: boundaries fall everywhere.
Outcome decode_sliced(std::string_view in, std::uint64_t max_body, std::size_t max_trailer, std::uint32_t seed) {
  return decode(BodyDecoder::chunked(max_body, max_trailer), in,
                [seed]() mutable {
                  seed = seed * 1103515245u + 12345u;
                  return std::size_t{1} + (seed >> 16) % 17;
                },
                max_body);
}

void same(const Outcome& a, const Outcome& b) {
  if (a.status != b.status) mismatch("status");
  if (a.status == 200 && a.consumed != b.consumed) mismatch("end of body");
  // Data handed out before an error may differ in how much arrived; a finished body may not.
  if (a.status == 200 && a.body != b.body) mismatch("body bytes");
}

/// Small deterministic generator for the round-trip encoder's choices.
struct Choices {
  std::uint32_t state;
  std::uint32_t next(std::uint32_t bound) {
    state = state * 1664525u + 1013904223u;
    return bound ? (state >> 8) % bound : 0;
  }
};

std::string hex(std::size_t n, bool upper, int zeros) {
  static constexpr char lower_digits[] = "0123456789abcdef", upper_digits[] = "0123456789ABCDEF";
  std::string digits;
  do {
    digits.insert(digits.begin(), (upper ? upper_digits : lower_digits)[n % 16]);
    n /= 16;
  } while (n);
  return std::string(static_cast<std::size_t>(zeros), '0') + digits;
}

/// Chunked framing of `payload` with choices from `c`; the decoder must accept all of it.
std::string encode(std::string_view payload, Choices& c) {
  std::string out;
  std::size_t pos = 0;
  while (pos < payload.size()) {
    const std::size_t n = std::min<std::size_t>(payload.size() - pos, 1 + c.next(300));
    out += hex(n, c.next(2), static_cast<int>(c.next(4)));
    switch (c.next(4)) {
      case 1: out += ";name"; break;
      case 2: out += ";name=value;q=\"quoted; string\""; break;
      case 3: out += " ;ws=1"; break;
      default: break;
    }
    out += "\r\n";
    out.append(payload.substr(pos, n));
    out += "\r\n";
    pos += n;
  }
  out += hex(0, false, static_cast<int>(c.next(3))) + "\r\n";
  for (std::uint32_t t = c.next(3); t > 0; --t) out += "X-Trailer-" + std::to_string(t) + ": v\t a\r\n";
  out += "\r\n";
  return out;
}

void round_trip(std::string_view payload, std::uint32_t seed) {
  Choices c{seed};
  const std::string framed = encode(payload, c);
  const std::string next_request = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
  const std::string stream = framed + next_request;
  const std::uint64_t enough = payload.size() + 1;
  for (const Outcome& o : {decode_whole(stream, enough, 4096), decode_bytewise(stream, enough, 4096),
                           decode_sliced(stream, enough, 4096, seed)}) {
    if (o.status != 200) mismatch("a valid chunked body was refused");
    if (o.body != payload) mismatch("round trip changed the body");
    if (o.consumed != framed.size()) mismatch("decoder did not stop at the end of the body");
  }
  if (decode_whole(stream, payload.size(), 4096).status != 200) mismatch("a body exactly at the limit was refused");
  if (!payload.empty()) {
    const Outcome over = decode_whole(stream, payload.size() - 1, 4096);
    if (over.status != 413) mismatch("a body one byte over the limit was not 413");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 3, size - 3);
  const std::uint32_t seed = data[1] | (std::uint32_t{data[2]} << 8);
  if (data[0] & 1) {
    round_trip(rest, seed);
    return 0;
  }
  // Limits small enough that the fuzzer reaches them: a body limit of 0 to 4 KiB, a trailer
  // limit of 0 to 1 KiB.
  const std::uint64_t max_body = (std::uint64_t{data[1]} * 131) % 4097;
  const std::size_t max_trailer = (std::size_t{data[2]} * 67) % 1025;
  const Outcome whole = decode_whole(rest, max_body, max_trailer);
  same(whole, decode_bytewise(rest, max_body, max_trailer));
  same(whole, decode_sliced(rest, max_body, max_trailer, seed));
  return 0;
}
