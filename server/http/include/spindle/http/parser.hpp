// The HTTP/1.1 request parser: strict RFC 9110/9112, incremental, zero-copy. Heads are
// parsed in place (string_views into the connection's buffer); bodies are framed by
// Content-Length or decoded from chunked transfer coding by BodyDecoder.
//
// Bare LF policy: a LF not preceded by CR anywhere in a head (or in chunked framing) is a
// 400 and the connection closes; a bare CR likewise. Accepting either would let a peer that
// disagrees about line ends see a different message boundary (request smuggling); refusing
// them means the parser and every RFC-conforming peer always agree where a message ends.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace spindle::http {

/// Limits on what a client may send, each with the status its excess gets.
struct ParserLimits {
  std::size_t max_request_line = 8 * 1024;   ///< 414 URI Too Long
  std::size_t max_header_bytes = 16 * 1024;  ///< 431 (the whole head, request line and final CRLF included)
  std::size_t max_headers = 100;             ///< 431
  std::uint64_t max_body = 8 * 1024 * 1024;  ///< 413 Content Too Large
};

/// One header field as received (name case preserved; compare case-insensitively).
struct Field {
  std::string_view name;
  std::string_view value;  ///< leading and trailing whitespace removed
};

/// A parsed request head. Views point into the buffer the head was parsed from.
struct RequestHead {
  std::string_view method;
  std::string_view target;
  int minor_version = 1;  ///< HTTP/1.minor_version
  std::vector<Field> fields;
  std::size_t head_bytes = 0;  ///< bytes of the head, final CRLF included

  // Derived while parsing.
  bool keep_alive = true;    ///< 1.1 unless "Connection: close"; 1.0 only with keep-alive
  bool chunked = false;      ///< Transfer-Encoding: chunked
  std::optional<std::uint64_t> content_length;
  bool expect_continue = false;

  /// The value of the first field called `name` (case-insensitive), if any.
  std::optional<std::string_view> field(std::string_view name) const noexcept;
};

/// Why a request was refused: the status to answer with, and a short reason for the log and
/// the response body. After any of these the connection is closed.
struct ParseError {
  int status = 400;
  std::string reason;
};

/// What parse_head() found.
enum class HeadStatus { incomplete, complete, error };

/// Finds and parses one request head in `data` (everything received so far, from the head's
/// first byte). Incremental: call again with more data after `incomplete`; `scanned` keeps
/// the position reached, so the bytes are scanned once however they arrive.
class HeadParser {
 public:
  explicit HeadParser(ParserLimits limits = {}) : limits_(limits) {}

  HeadStatus parse(std::string_view data, RequestHead& head, ParseError& error);
  /// Forgets a previous head, for the next request on the connection.
  void reset() noexcept { scanned_ = 0; line_end_seen_ = false; }

 private:
  HeadStatus fail(ParseError& error, int status, std::string reason);
  /// Parses the head at the start of `text`, which ends in CRLFCRLF; `end` is set past the
  /// head's blank line. Refuses any CR not followed by LF, so a head it accepts has only CRLF
  /// line ends, even in text the byte scan in parse() has not checked.
  HeadStatus parse_lines(std::string_view text, RequestHead& head, ParseError& error, std::size_t& end);

  ParserLimits limits_;
  std::size_t scanned_ = 0;      // bytes already checked for the end of the head
  bool line_end_seen_ = false;   // the request line's CRLF was found within its limit
};

/// Decodes a request body framed by Content-Length or chunked coding, incrementally: give it
/// whatever bytes arrived, it says how many it consumed and which of them are body data.
class BodyDecoder {
 public:
  BodyDecoder() = default;
  /// Content-Length framing.
  static BodyDecoder fixed(std::uint64_t length) noexcept;
  /// Chunked framing, with a limit on the decoded size and on trailer bytes.
  static BodyDecoder chunked(std::uint64_t max_body, std::size_t max_trailer_bytes) noexcept;

  struct Step {
    std::size_t consumed = 0;   ///< input bytes used
    std::size_t data_offset = 0;  ///< where in the input the body data of this step starts
    std::size_t data_size = 0;    ///< how many body bytes that is (0: framing only)
  };
  /// Advances over `in`. Returns how far it got; on malformed framing or an excess of the
  /// limit, `error` is set (400 or 413) and the result is to be ignored. Each call yields at
  /// most one run of contiguous body bytes, so call again while it consumes input.
  Step feed(std::string_view in, std::optional<ParseError>& error);

  /// True once the whole body (and, for chunked, the trailer) has been consumed.
  bool done() const noexcept { return state_ == State::done; }
  /// Body bytes decoded so far.
  std::uint64_t decoded() const noexcept { return decoded_; }

 private:
  enum class State { size, size_ext, size_lf, data, data_cr, data_lf, trailer_line, trailer_lf, done, fixed };
  State state_ = State::done;
  std::uint64_t remaining_ = 0;   // of the fixed body, or of the current chunk
  std::uint64_t decoded_ = 0;
  std::uint64_t max_body_ = 0;
  std::size_t max_trailer_ = 0;
  std::size_t trailer_bytes_ = 0;
  std::size_t line_bytes_ = 0;    // of the current size line or trailer line
  int size_digits_ = 0;
  bool line_empty_ = true;        // the current trailer line has no characters yet
  bool trailer_colon_ = false;    // the current trailer line's ':' was seen
};

/// True for RFC 9110 tchar (the characters of a token).
bool is_token_char(unsigned char c) noexcept;
/// Case-insensitive ASCII comparison.
bool iequals(std::string_view a, std::string_view b) noexcept;

}  // namespace spindle::http
