#include "spindle/http/service.hpp"

#include <spdlog/spdlog.h>

#include <asio/bind_cancellation_slot.hpp>
#include <charconv>
#include <cstring>
#include <ctime>
#include <vector>

#include "exchange.hpp"
#include "idle_deadline.hpp"
#include "spindle/log.hpp"

namespace spindle::http {
namespace {

/// Bytes of pipelined responses held back before they are written anyway.
constexpr std::size_t coalesce_limit = 32 * 1024;
/// A body the handler left unread is read and dropped up to this much to keep the
/// connection; beyond it the connection closes instead.
constexpr std::uint64_t drain_limit = 64 * 1024;

/// What a connection needs only while it reads or answers a request — the input buffer, the
/// output string and the header-field list — kept per thread (a few dozen sets), so an idle
/// keep-alive connection holds none of it and a busy one allocates none of it.
class ScratchCache {
 public:
  static std::unique_ptr<Service::Scratch> take(std::size_t capacity) {
    // From the back: the most recently given buffers are the likeliest in the cache, and
    // taking the last one moves nothing else.
    auto& c = cache();
    for (auto it = c.rbegin(); it != c.rend(); ++it) {
      if ((*it)->capacity == capacity) {
        std::unique_ptr<Service::Scratch> s = std::move(*it);
        if (&*it != &c.back()) *it = std::move(c.back());
        c.pop_back();
        return s;
      }
    }
    auto s = std::make_unique<Service::Scratch>();
    s->buf = std::make_unique_for_overwrite<char[]>(capacity);
    s->capacity = capacity;
    s->out.reserve(1024);
    return s;
  }
  static void give(std::unique_ptr<Service::Scratch> s) {
    auto& c = cache();
    if (c.size() >= 64) return;
    s->out.clear();
    if (s->out.capacity() > 64 * 1024) s->out = std::string();  // a big response's buffer is not kept
    s->fields.clear();
    c.push_back(std::move(s));
  }

 private:
  static std::vector<std::unique_ptr<Service::Scratch>>& cache() {
    thread_local std::vector<std::unique_ptr<Service::Scratch>> c;
    return c;
  }
};

/// "Sun, 29 Nov 2026 14:00:00 GMT", formatted once a second per thread.
std::string_view http_date() {
  thread_local std::time_t cached_second = 0;
  thread_local char text[40];
  const std::time_t now = std::time(nullptr);
  if (now != cached_second) {
    cached_second = now;
    std::tm tm{};
    gmtime_r(&now, &tm);
    std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  }
  return text;
}

/// Why a request's context was cancelled, for the metrics: the cause the disconnect watch
/// records, or shutdown (the connection's context), or the deadline.
struct ClientGone : std::runtime_error {
  ClientGone() : std::runtime_error("the client closed the connection") {}
};
const std::exception_ptr& client_gone() {
  static const std::exception_ptr e = std::make_exception_ptr(ClientGone{});
  return e;
}

CancelReason reason_of(const Context& ctx) {
  if (ctx.err() == Errc::deadline_exceeded) return CancelReason::deadline;
  try {
    if (auto cause = ctx.cause()) std::rethrow_exception(cause);
  } catch (const ClientGone&) {
    return CancelReason::client_gone;
  } catch (...) {
  }
  return CancelReason::shutdown;
}

}  // namespace

// ---------------------------------------------------------------- metrics

void ServiceMetrics::record(int status, std::chrono::nanoseconds duration) noexcept {
  const int cls = status / 100;
  if (cls >= 1 && cls <= 5) requests_by_class[cls].fetch_add(1, std::memory_order_relaxed);
  const double seconds = std::chrono::duration<double>(duration).count();
  std::size_t b = 0;
  while (b < buckets.size() && seconds > buckets[b]) ++b;
  duration_buckets[b].fetch_add(1, std::memory_order_relaxed);
  duration_sum_us.fetch_add(static_cast<std::uint64_t>(seconds * 1e6), std::memory_order_relaxed);
}

// ---------------------------------------------------------------- connection buffers

void Service::Connection::acquire() {
  if (scratch) return;
  scratch = ScratchCache::take(service.options_.limits.max_header_bytes + 16 * 1024);
  begin = end = 0;
}

void Service::Connection::release_if_empty() noexcept {
  if (!scratch || buffered() != 0 || !scratch->out.empty()) return;
  ScratchCache::give(std::move(scratch));
  begin = end = 0;
}

void Service::Connection::compact() noexcept {
  if (begin == 0) return;
  std::memmove(buf(), buf() + begin, end - begin);
  end -= begin;
  begin = 0;
}

std::optional<std::error_code> Service::Connection::try_flush(std::size_t& n) {
  // A failed write is final. Trying again would wait on a client that reads nothing for
  // another write timeout (the close after a cut-short response flushes again), and would
  // send again bytes that partly went out.
  if (write_failed) return make_error_code(asio::error::shut_down);
  n = std::min(n, out().size());
  if (n == 0) return std::error_code{};
  const tcp::IoResult put = conn.try_write({out().data(), n});
  if (put.error && put.error != asio::error::would_block) {
    write_failed = true;
    return put.error;
  }
  const std::size_t sent = put.error ? 0 : put.bytes;
  out().erase(0, sent);
  n -= sent;
  if (n == 0) return std::error_code{};
  return std::nullopt;
}

Task<std::error_code> Service::Connection::flush_rest(const Context& ctx, std::size_t n) {
  auto [write_ctx, done] = with_timeout(ctx, service.options_.write_timeout);
  tcp::IoResult put;
  co_await conn.write_all_into(write_ctx, {out().data(), n}, put);
  if (put.error) {
    write_failed = true;
    co_return put.error;
  }
  out().erase(0, n);
  co_return std::error_code{};
}

Task<std::error_code> Service::Connection::flush(const Context& ctx, std::size_t n) {
  if (auto finished = try_flush(n)) co_return *finished;
  co_return co_await flush_rest(ctx, n);
}

// ---------------------------------------------------------------- one request

Exchange::Exchange(Service::Connection& c, const RequestHead& head)
    : c_(c),
      head_(head),
      decoder_(head.chunked ? BodyDecoder::chunked(c.service.options().limits.max_body,
                                                   c.service.options().limits.max_header_bytes)
                            : BodyDecoder::fixed(head.content_length.value_or(0))),
      body_pos_(c.begin + head.head_bytes),
      head_end_(c.begin + head.head_bytes),
      request_(head, *this, c.conn.peer()) {}

Exchange::~Exchange() { stop_watching(); }

void Exchange::watch_once_suspended() {
  // Most handlers answer without waiting; the watch would cost them a system call each.
  detail::set_park_hook({[](void* self) noexcept {
                           try {
                             static_cast<Exchange*>(self)->watch_for_disconnect();
                           } catch (...) {
                             // No memory for the watch: the request runs unwatched.
                           }
                         },
                         this});
}

void Exchange::watch_for_disconnect() {
  if (watching_) return;
  // A peek at the read side: it completes when the client sends more (a pipelined request:
  // the client is there) or closes (cancel the request). It consumes nothing, so pipelining
  // is unaffected, and after a drained read Asio queues it without a system call.
  thread_local char peek;
  watching_ = true;
  c_.conn.socket().async_receive(
      asio::buffer(&peek, 1), tcp::Socket::message_peek,
      asio::bind_cancellation_slot(watch_.slot(), [node = request_node_](std::error_code ec, std::size_t n) {
        if (ec == asio::error::operation_aborted) return;
        if (ec || n == 0) node->cancel(Errc::canceled, client_gone());
      }));
}

void Exchange::stop_watching() noexcept {
  detail::clear_park_hook(this);
  if (!watching_) return;
  watching_ = false;
  watch_.emit(asio::cancellation_type::terminal);
}

Task<tcp::IoResult> Exchange::read_body(const Context& ctx, std::span<char> out) {
  if (body_error_) co_return tcp::IoResult{0, make_error_code(std::errc::bad_message)};
  if (pending_size_ == 0 && decoder_.done()) co_return tcp::IoResult{};
  if (head_.expect_continue && !continue_sent_) {
    continue_sent_ = true;
    // After any pipelined responses still queued, before this request's own head.
    static constexpr std::string_view interim = "HTTP/1.1 100 Continue\r\n\r\n";
    const std::size_t at = head_pending_ ? head_offset_ : c_.out().size();
    c_.out().insert(at, interim);
    if (head_pending_) head_offset_ += interim.size();
    if (auto ec = co_await c_.flush(ctx, at + interim.size())) co_return tcp::IoResult{0, ec};
    if (head_pending_) head_offset_ = 0;
  }
  for (;;) {
    if (pending_size_ > 0) {
      const std::size_t n = std::min(pending_size_, out.size());
      std::memcpy(out.data(), c_.buf() + pending_offset_, n);
      pending_offset_ += n;
      pending_size_ -= n;
      if (body_done()) watch_once_suspended();
      co_return tcp::IoResult{n, {}};
    }
    if (decoder_.done()) co_return tcp::IoResult{};
    if (body_pos_ < c_.end) {
      std::optional<ParseError> error;
      const auto step = decoder_.feed({c_.buf() + body_pos_, c_.end - body_pos_}, error);
      if (error) {
        body_error_ = std::move(error);
        c_.service.metrics().parse_errors.fetch_add(1, std::memory_order_relaxed);
        co_return tcp::IoResult{0, make_error_code(std::errc::bad_message)};
      }
      pending_offset_ = body_pos_ + step.data_offset;
      pending_size_ = step.data_size;
      body_pos_ += step.consumed;
      if (step.consumed > 0) continue;
    }
    // Need more bytes: make room behind the head (nothing before body_pos_ is needed now).
    if (c_.end == c_.capacity()) {
      std::memmove(c_.buf() + head_end_, c_.buf() + body_pos_, c_.end - body_pos_);
      c_.end = head_end_ + (c_.end - body_pos_);
      body_pos_ = head_end_;
    }
    tcp::IoResult got;
    {
      auto [read_ctx, done] = with_timeout(ctx, c_.service.options().body_timeout);
      co_await c_.conn.read_some_into(read_ctx, {c_.buf() + c_.end, c_.capacity() - c_.end}, got);
    }
    if (got.error || got.bytes == 0) {
      if (got.error == Errc::deadline_exceeded && !ctx.done())
        body_error_ = ParseError{408, "request body too slow"};
      else if (!got.error || got.error == asio::error::eof)
        body_error_ = ParseError{400, "request body cut off"};
      co_return tcp::IoResult{0, got.error ? got.error : make_error_code(asio::error::eof)};
    }
    c_.end += got.bytes;
  }
}

namespace {

/// Appends to a string the pieces of a response head with one size change, where `+=` per
/// piece would check the capacity (and measure a C string) each time.
class HeadWriter {
 public:
  HeadWriter(std::string& out, std::size_t at_most) : out_(out), at_(out.size()) { out.resize(at_ + at_most); }
  HeadWriter(const HeadWriter&) = delete;
  HeadWriter& operator=(const HeadWriter&) = delete;
  ~HeadWriter() { out_.resize(at_); }

  void put(std::string_view s) noexcept {
    std::memcpy(out_.data() + at_, s.data(), s.size());
    at_ += s.size();
  }
  void put(std::uint64_t v) noexcept {
    at_ = static_cast<std::size_t>(std::to_chars(out_.data() + at_, out_.data() + at_ + max_digits, v).ptr - out_.data());
  }
  static constexpr std::size_t max_digits = 20;

 private:
  std::string& out_;
  std::size_t at_;
};

}  // namespace

void Exchange::append_head(const Response& response, std::optional<std::uint64_t> length) {
  using namespace std::string_view_literals;
  const std::string_view server = c_.service.options().server_name;
  const std::string_view reason = reason_phrase(response.status);
  const std::string_view date = http_date();
  std::size_t size = 160 + 2 * HeadWriter::max_digits + server.size() + reason.size() + date.size() +
                     response.content_type.size() + request_.id().size();
  for (const auto& [name, value] : response.headers) size += name.size() + value.size() + 4;

  HeadWriter out(c_.out(), size);
  out.put(head_.minor_version == 0 ? "HTTP/1.0 "sv : "HTTP/1.1 "sv);
  out.put(static_cast<std::uint64_t>(response.status));
  out.put(" "sv);
  out.put(reason);
  out.put("\r\nServer: "sv);
  out.put(server);
  out.put("\r\nDate: "sv);
  out.put(date);
  bool typed = false;
  for (const auto& [name, value] : response.headers) {
    out.put("\r\n"sv);
    out.put(name);
    out.put(": "sv);
    out.put(value);
    typed = typed || iequals(name, "content-type");
  }
  if (!typed && !response.content_type.empty()) {
    out.put("\r\nContent-Type: "sv);
    out.put(response.content_type);
  }
  out.put("\r\nX-Request-Id: "sv);
  out.put(request_.id());
  if (length) {
    out.put("\r\nContent-Length: "sv);
    out.put(*length);
  } else if (chunked_out_) {
    out.put("\r\nTransfer-Encoding: chunked"sv);
  }
  if (c_.close) out.put("\r\nConnection: close"sv);
  else if (head_.minor_version == 0) out.put("\r\nConnection: keep-alive"sv);
  out.put("\r\n\r\n"sv);
}

Task<std::error_code> Exchange::write_body(const Context& ctx, std::span<const char> data) {
  if (data.empty() || head_only_) co_return std::error_code{};
  if (chunked_out_) {
    char size[20];
    auto [end, ec] = std::to_chars(size, size + sizeof size, data.size(), 16);
    c_.out().append(size, end);
    c_.out() += "\r\n";
    c_.out().append(data.data(), data.size());
    c_.out() += "\r\n";
  } else {
    c_.out().append(data.data(), data.size());
  }
  body_bytes_out_ += data.size();
  head_pending_ = false;
  co_return co_await c_.flush(ctx);
}

Response Exchange::answer_failure(std::exception_ptr failure) const {
  try {
    std::rethrow_exception(failure);
  } catch (const HttpError& e) {
    return Response::text(e.status, std::string(e.what()) + "\n");
  } catch (const ContextError&) {
    // The request's context ended and the handler let it surface.
    return Response::text(503, "request timed out\n");
  } catch (const std::exception& e) {
    spdlog::error("request {} {} {} failed: {}", request_.id(), request_.method(), request_.path(), e.what());
  } catch (...) {
    spdlog::error("request {} {} {} failed with a non-standard exception", request_.id(), request_.method(),
                  request_.path());
  }
  return Response::text(500, "internal server error (request " + std::string(request_.id()) + ")\n");
}

Task<void> Exchange::finish_body(const Context& ctx) {
  if (body_done()) co_return;
  // With 100-continue unsent the client is waiting to send: tell it no by closing.
  if (head_.expect_continue && !continue_sent_) {
    c_.close = true;
    co_return;
  }
  char scratch[4096];
  while (!body_done() && !body_error_ && decoder_.decoded() <= drain_limit) {
    const tcp::IoResult r = co_await read_body(ctx, scratch);
    if (r.error || r.bytes == 0) break;
  }
  if (!body_done()) c_.close = c_.linger = true;
}

namespace {

/// `co_await` yields the handler's response, or the answer `on_failure` makes to what it
/// threw — while starting or while running. The response is made in the awaiting frame's
/// variable at once: `Response r; try { r = co_await task; } catch ...` cost a default
/// construction, a move assignment and a destruction more (~100 instructions a request).
template <class OnFailure>
class Answer {
 public:
  template <class Start>
  Answer(Start start, OnFailure on_failure) : on_failure_(std::move(on_failure)) {
    try {
      task_.emplace(start());
    } catch (...) {
      failure_ = std::current_exception();
    }
  }
  bool await_ready() const noexcept { return !task_; }
  bool await_suspend(std::coroutine_handle<> caller) noexcept { return task_->await_suspend(caller); }
  Response await_resume() {
    if (!task_) return on_failure_(failure_);
    try {
      return task_->await_resume();
    } catch (...) {
      return on_failure_(std::current_exception());
    }
  }

 private:
  OnFailure on_failure_;
  std::optional<Task<Response>> task_;
  std::exception_ptr failure_;
};

}  // namespace

Task<void> Exchange::run(const Context& conn_ctx) {
  const auto started = Clock::now();
  auto& service = c_.service;
  const auto& opt = service.options();

  // The request's context: the connection's, with the request deadline, which an inbound
  // X-Request-Timeout (milliseconds) may shorten but never lengthen.
  auto timeout = std::chrono::duration_cast<Clock::duration>(opt.request_timeout);
  if (auto asked = head_.field("x-request-timeout")) {
    std::uint64_t ms = 0;
    auto [end, ec] = std::from_chars(asked->data(), asked->data() + asked->size(), ms);
    if (ec == std::errc() && end == asked->data() + asked->size() && std::chrono::milliseconds(ms) < timeout)
      timeout = std::chrono::milliseconds(ms);
  }
  request_node_ = detail::DeadlineNode::make(conn_ctx.node(), started + timeout, timeout <= Clock::duration::zero());
  const Context ctx{detail::Ref<detail::ContextNode>(request_node_)};
  if (body_done() && c_.end == body_pos_) watch_once_suspended();

  // The handler's task is awaited here, not in a coroutine of its own: a frame and an await
  // less per request. A failure is answered by a plain function, which keeps its temporaries
  // out of this frame.
  Response response = co_await Answer([&] { return service.router().dispatch(ctx, request_); },
                                      [this](std::exception_ptr e) { return answer_failure(std::move(e)); });
  stop_watching();

  const auto count_if_cancelled = [&] {
    if (ctx.done()) service.metrics().cancelled[static_cast<int>(reason_of(ctx))].fetch_add(1, std::memory_order_relaxed);
  };
  const bool cancelled = ctx.done() && ctx.err() == Errc::canceled;
  if (cancelled && (conn_ctx.done() || reason_of(ctx) == CancelReason::client_gone)) {
    // The client left, or shutdown cancelled the connection: nobody to answer.
    count_if_cancelled();
    c_.close = true;
    log_and_count(499, 0, Clock::now() - started);
    co_return;
  }
  if (body_error_) {
    response = Response::text(body_error_->status, body_error_->reason + "\n");
    c_.close = c_.linger = true;
  }
  if (!head_.keep_alive || service.draining()) c_.close = true;
  if (head_.expect_continue && !continue_sent_ && !body_done()) c_.close = c_.linger = true;
  head_only_ = head_.method == "HEAD";

  std::uint64_t bytes = 0;
  if (response.stream) {
    chunked_out_ = !response.stream_length && head_.minor_version == 1;
    if (!response.stream_length && head_.minor_version == 0) c_.close = true;  // ends by closing
    head_offset_ = c_.out().size();
    head_pending_ = true;
    append_head(response, response.stream_length);
    if (!head_only_) {
      ResponseWriter writer(*this);
      std::optional<Response> failed;
      try {
        co_await response.stream(ctx, writer);
      } catch (const HttpError& e) {
        failed = Response::text(e.status, std::string(e.what()) + "\n");
      } catch (const std::exception& e) {
        spdlog::warn("request {} {} {}: response stream failed: {}", request_.id(), request_.method(),
                     request_.path(), e.what());
        failed = Response::text(500, "internal server error (request " + std::string(request_.id()) + ")\n");
      }
      if (failed && body_error_) failed = Response::text(body_error_->status, body_error_->reason + "\n");
      if (failed && head_pending_) {
        // Nothing of this response went out yet: answer with the error instead.
        c_.out().resize(head_offset_);
        head_pending_ = false;
        chunked_out_ = false;
        c_.close = c_.linger = true;
        response = std::move(*failed);
        append_head(response, response.body.size());
        c_.out() += response.body;
        body_bytes_out_ = response.body.size();
      } else if (failed) {
        c_.close = true;  // the body is cut short; closing tells the client so
      } else if (chunked_out_) {
        c_.out() += "0\r\n\r\n";
      }
      if (!failed && response.stream_length && body_bytes_out_ != *response.stream_length) c_.close = true;
    }
    head_pending_ = false;
    bytes = body_bytes_out_;
  } else {
    append_head(response, response.body.size());
    if (!head_only_) c_.out() += response.body;
    bytes = head_only_ ? 0 : response.body.size();
  }

  // Counted once the response is made, so a deadline that cuts a streamed body short counts.
  count_if_cancelled();
  if (!c_.close && !body_done()) co_await finish_body(conn_ctx);  // its frame is large
  // Pipelined requests already buffered: hold this response back to write several at once.
  const bool more_buffered = c_.end > body_pos_;
  if (c_.close || !more_buffered || c_.out().size() >= coalesce_limit) {
    // Written here if the socket takes it all, as it usually does: no frame for flush.
    std::size_t n = std::string::npos;
    std::optional<std::error_code> failed = c_.try_flush(n);
    if (!failed) failed = co_await c_.flush_rest(conn_ctx, n);
    if (*failed) c_.close = true;
  }
  c_.answered = Clock::now();
  log_and_count(response.status, bytes, c_.answered - started);
}

void Exchange::log_and_count(int status, std::uint64_t bytes, Clock::duration took) const {
  c_.service.metrics().record(status, took);
  if (!c_.service.options().access_log || !spdlog::should_log(spdlog::level::info)) return;
  const double ms = std::chrono::duration<double, std::milli>(took).count();
  const log::ScopedFields::Field fields[] = {
      {"method", request_.method()},
      {"path", request_.path()},
      {"status", {}, static_cast<double>(status), true},
      {"bytes", {}, static_cast<double>(bytes), true},
      {"duration_ms", {}, ms, true},
      {"request_id", request_.id()},
      {"peer", request_.peer()},
  };
  log::ScopedFields scope(fields);
  spdlog::info("{} {} {} {}B {:.3f}ms id={}", request_.method(), request_.path(), status, bytes, ms,
               request_.id());
}

// ---------------------------------------------------------------- the connection loop

Service::Service(Router router, ServiceOptions options)
    : router_(std::move(router)), options_(std::move(options)) {}

Service::~Service() { drain(); }

void Service::start(const Context& ctx) { idle_scope_.emplace(with_cancel(ctx)); }

void Service::drain() {
  draining_.store(true, std::memory_order_release);
  if (idle_scope_) idle_scope_->cancel();
}

namespace {

/// Closing right after answering a client that is still sending would make the kernel reset
/// the connection, and the client could lose the answer before reading it. So: half-close,
/// then read and drop what still arrives, briefly (nginx's lingering close).
Task<void> linger(const Context& ctx, Service::Connection& c) {
  c.conn.shutdown_send();
  auto [linger_ctx, done] = with_timeout(ctx, 2s);
  char scratch[4096];
  tcp::IoResult got;
  for (std::size_t total = 0; total < 1024 * 1024;) {
    co_await c.conn.read_some_into(linger_ctx, scratch, got);
    if (got.error || got.bytes == 0) co_return;
    total += got.bytes;
  }
}

// Error answers are made outside the coroutines that send them: GCC gives every local of a
// coroutine, temporaries included, a place in its frame, and serve_one's frame is allocated
// for every request (small frames come from glibc's per-thread cache, large ones do not).

/// Queues the answer to a malformed head; the connection closes after it.
void refuse(Service::Connection& c, const ParseError& error) {
  c.service.metrics().parse_errors.fetch_add(1, std::memory_order_relaxed);
  c.service.metrics().record(error.status, {});
  spdlog::debug("http {}: refused a request: {} {}", c.conn.peer(), error.status, error.reason);
  c.out() += "HTTP/1.1 " + std::to_string(error.status) + " " + std::string(reason_phrase(error.status)) +
           "\r\nServer: " + c.service.options().server_name + "\r\nDate: " + std::string(http_date()) +
           "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " +
           std::to_string(error.reason.size() + 1) + "\r\nConnection: close\r\n\r\n" + error.reason + "\n";
  c.linger = true;
}

/// Queues the answer to a head that did not arrive within the header timeout.
void time_out(Service::Connection& c) {
  c.service.metrics().record(408, {});
  c.out() += "HTTP/1.1 408 Request Timeout\r\nServer: " + c.service.options().server_name +
           "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
}

/// Parses the head in the buffer; a malformed one is answered (queued in `out`).
HeadStatus parse_head(Service::Connection& c, HeadParser& parser, RequestHead& head) {
  ParseError error;
  const HeadStatus status = parser.parse(c.data(), head, error);
  if (status == HeadStatus::error) refuse(c, error);
  return status;
}

/// Reads the rest of a head that did not arrive whole, within the header timeout. False: the
/// connection closes (the answer to a malformed or late head is sent first).
Task<bool> read_rest_of_head(const Context& ctx, Service::Connection& c, HeadParser& parser, RequestHead& head) {
  auto [header_ctx, done] = with_timeout(ctx, c.service.options().header_timeout);
  for (;;) {
    // Pipelined responses go out before waiting on the client.
    if (co_await c.flush(ctx)) co_return false;
    tcp::IoResult got;
    co_await c.conn.read_some_into(header_ctx, {c.buf() + c.end, c.capacity() - c.end}, got);
    if (got.error || got.bytes == 0) {
      if (got.error == Errc::deadline_exceeded && !ctx.done()) {
        time_out(c);
        co_await c.flush(ctx);
      }
      co_return false;
    }
    c.end += got.bytes;
    const HeadStatus status = parse_head(c, parser, head);
    if (status == HeadStatus::complete) co_return true;
    if (status == HeadStatus::error) {
      co_await c.flush(ctx);
      co_return false;
    }
  }
}

/// Reads and serves one request (the head is started in the buffer). False: close.
Task<bool> serve_one(const Context& ctx, Service::Connection& c) {
  c.compact();  // the head starts at offset 0 and stays put while it is served
  HeadParser parser(c.service.options().limits);
  RequestHead head;
  head.fields.swap(c.fields());  // the connection's list, with its capacity; given back below
  struct GiveBack {
    Service::Connection& c;
    RequestHead& head;
    ~GiveBack() { c.fields().swap(head.fields); }
  } give_back{c, head};
  // Usually the whole head came in one read; waiting for the rest has a frame of its own.
  const HeadStatus status = parse_head(c, parser, head);
  if (status == HeadStatus::error) {
    co_await c.flush(ctx);
    co_return false;
  }
  if (status == HeadStatus::incomplete) {
    const bool complete = co_await read_rest_of_head(ctx, c, parser, head);
    if (!complete) co_return false;
  }

  Exchange exchange(c, head);
  co_await exchange.run(ctx);
  if (c.close) {
    co_await c.flush(ctx);
    co_return false;
  }
  c.begin = exchange.next_request_offset();
  co_return true;
}

}  // namespace

Task<void> Service::serve(Context ctx, tcp::Conn conn) {
  Connection c(*this, conn);
  std::array<char, 96> head;  // the first bytes of the next request, read while idle
  IdleDeadline wait;          // bounds the wait for them
  for (bool first = true;; first = false) {
    if (c.buffered() == 0) {
      c.release_if_empty();
      // A new connection's first request is served even while draining (answered with
      // Connection: close); a keep-alive connection waiting for its next one closes then.
      if (draining() && !first) co_return;
      if (first) wait.start(ctx, Clock::now() + options_.header_timeout);
      else wait.start(idle_scope_->ctx, c.answered + options_.idle_timeout);
      tcp::IoResult got;
      do co_await conn.read_some_into(wait.context(), head, got);
      while (got.error == Errc::deadline_exceeded && wait.extended());
      if (got.error || got.bytes == 0) co_return;  // closed, idle timeout, or draining
      c.acquire();
      std::memcpy(c.buf(), head.data(), got.bytes);
      c.begin = 0;
      c.end = got.bytes;
    }
    const bool keep = co_await serve_one(ctx, c);
    if (!keep) {
      if (c.linger) co_await linger(ctx, c);
      co_return;
    }
  }
}

}  // namespace spindle::http
