// Internal to the HTTP service: the state of one connection and of the request on it.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "spindle/detail/context_node.hpp"
#include "spindle/detail/fiber_record.hpp"
#include "spindle/http/request.hpp"
#include "spindle/http/response.hpp"
#include "spindle/http/service.hpp"

namespace spindle::http {

/// The buffers a connection borrows from its thread while it reads or answers a request.
struct Service::Scratch {
  std::unique_ptr<char[]> buf;
  std::size_t capacity = 0;
  std::string out;
  std::vector<Field> fields;
};

/// One connection's buffers, kept between its requests. The input buffer exists only while
/// a request is being read or served: an idle keep-alive connection holds none.
struct Service::Connection {
  Connection(Service& service, tcp::Conn& conn) noexcept : service(service), conn(conn) {}

  Service& service;
  tcp::Conn& conn;
  // Borrowed whole, as one pointer: moving the buffers in and out field by field cost ~200
  // instructions per request, and an idle connection holds only the null pointer.
  std::unique_ptr<Scratch> scratch;
  std::size_t begin = 0;  // first unconsumed byte
  std::size_t end = 0;    // one past the last received byte
  bool close = false;     // close after the current response
  bool linger = false;    // on close, first drain what the client still sends (see serve)
  bool write_failed = false;  // a write failed: later flushes fail at once (see flush)
  TimePoint answered{};   // when the last response was made: the idle timeout counts from it

  // The borrowed buffers, for use only while the connection holds them (see acquire).
  /// The input buffer, of capacity() bytes.
  char* buf() const noexcept { return scratch->buf.get(); }
  /// The input buffer's size.
  std::size_t capacity() const noexcept { return scratch->capacity; }
  /// Response bytes not yet written (pipelined responses coalesce).
  std::string& out() const noexcept { return scratch->out; }
  /// Lent to each request's head, for its capacity.
  std::vector<Field>& fields() const noexcept { return scratch->fields; }

  std::string_view data() const noexcept { return {buf() + begin, end - begin}; }
  std::size_t buffered() const noexcept { return end - begin; }
  /// Borrows the buffers (from this thread's cache) if it has none.
  void acquire();
  /// Gives the buffers back when nothing is buffered or unsent, so an idle connection holds none.
  void release_if_empty() noexcept;
  /// Moves the unconsumed bytes to the start of the buffer.
  void compact() noexcept;
  /// Writes the first `n` bytes of `out` (all by default), waiting at most the write
  /// timeout, and removes them. Once a write failed, returns that error without writing: the
  /// connection only closes then, and the rest of `out` can no longer go out in order.
  Task<std::error_code> flush(const Context& ctx, std::size_t n = std::string::npos);
  /// The part of flush that does not wait: writes what the socket takes now of the first `n`
  /// bytes of `out` and removes it. The result once all `n` went out or the write failed;
  /// nullopt if `n` (now the count left) bytes remain for flush_rest.
  std::optional<std::error_code> try_flush(std::size_t& n);
  /// The part of flush that waits: writes the first `n` bytes of `out` within the write timeout.
  Task<std::error_code> flush_rest(const Context& ctx, std::size_t n);
};

/// One request on a connection: body decoding, the interim 100 response, the response head and
/// body framing, and the watch for a client that leaves while the handler runs.
class Exchange {
 public:
  Exchange(Service::Connection& c, const RequestHead& head);
  ~Exchange();

  Request& request() noexcept { return request_; }
  /// Runs the router and sends the response; false if the connection must close after it.
  Task<void> run(const Context& conn_ctx);

  // Body, for http::Body.
  Task<tcp::IoResult> read_body(const Context& ctx, std::span<char> out);
  bool body_done() const noexcept { return decoder_.done() && pending_size_ == 0; }
  std::optional<std::uint64_t> body_length() const noexcept { return head_.content_length; }

  // Streaming, for http::ResponseWriter.
  Task<std::error_code> write_body(const Context& ctx, std::span<const char> data);

  /// Where the next request starts in the connection buffer, once this one is done.
  std::size_t next_request_offset() const noexcept { return body_pos_; }

 private:
  void append_head(const Response& response, std::optional<std::uint64_t> length);
  /// The answer to a handler that threw: its HttpError's status, 503 for an ended context,
  /// else 500 (logged with the request id).
  Response answer_failure(std::exception_ptr failure) const;
  Task<void> finish_body(const Context& ctx);
  /// Starts the watch the first time the handler's fiber waits (see detail::ParkHook).
  void watch_once_suspended();
  void watch_for_disconnect();
  void stop_watching() noexcept;
  void log_and_count(int status, std::uint64_t bytes, Clock::duration took) const;

  Service::Connection& c_;
  const RequestHead& head_;
  BodyDecoder decoder_;
  std::size_t body_pos_;       // next unread byte of the body framing in the buffer
  std::size_t head_end_;       // the head occupies [0, head_end_): never moved while serving
  std::size_t pending_offset_ = 0, pending_size_ = 0;  // decoded body bytes not handed out yet
  std::optional<ParseError> body_error_;
  bool continue_sent_ = false;
  // A streamed response's head waits in the output (at head_offset_) until the first body
  // bytes: until then a failing body read can still turn it into an error response, and an
  // interim 100 can still go before it.
  bool head_pending_ = false;
  std::size_t head_offset_ = 0;
  bool chunked_out_ = false;   // the response body is chunked
  bool head_only_ = false;     // HEAD: no body bytes
  std::uint64_t body_bytes_out_ = 0;
  detail::Ref<detail::CancelNode> request_node_;
  asio::cancellation_signal watch_;
  bool watching_ = false;
  Request request_;
};

}  // namespace spindle::http
