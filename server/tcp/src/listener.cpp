#include "spindle/tcp/listener.hpp"

#include <spdlog/spdlog.h>

#include <netinet/tcp.h>
#include <sys/socket.h>

#include <optional>
#include <thread>
#include <vector>

#include "spindle/detail/asio_await.hpp"
#include "spindle/log.hpp"
#include "spindle/sleep.hpp"

namespace spindle::tcp {

using asio::ip::tcp;
using reuse_port = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;
/// Each read reports the bytes still queued, which lets Conn skip the read that would find
/// none (spindle/tcp/detail/drain_aware_receive.hpp). Accepted sockets inherit it.
using report_queued_bytes = asio::detail::socket_option::boolean<IPPROTO_TCP, TCP_INQ>;

struct Listener::State final : ConnObserver {
  Scheduler& scheduler;
  ListenerOptions options;
  ConnectionHandler handler;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;  // [i] lives on worker i (shared: [0])
  std::optional<WithCancel<CancelFunc>> accepting, connections;
  std::atomic<std::uint64_t> accepted{0}, rejected{0}, accept_errors{0}, open{0};
  std::atomic<unsigned> next_worker{0};
  log::RateLimit reject_log, error_log;

  State(Scheduler& s, ListenerOptions o, ConnectionHandler h)
      : scheduler(s), options(std::move(o)), handler(std::move(h)) {}

  void closed(const Conn& conn) noexcept override {
    open.fetch_sub(1, std::memory_order_relaxed);
    spdlog::debug("{} connection from {} closed: read {} B, wrote {} B in {:.3f}s", options.name,
                  conn.peer(), conn.bytes_read(), conn.bytes_written(),
                  std::chrono::duration<double>(Clock::now() - conn.opened()).count());
  }
};

namespace {

std::unique_ptr<tcp::acceptor> open_acceptor(asio::io_context& io, const tcp::endpoint& endpoint,
                                             bool reuseport, int backlog, const std::string& name) {
  auto acceptor = std::make_unique<tcp::acceptor>(io);
  asio::error_code ec;
  const char* step = "open";
  acceptor->open(endpoint.protocol(), ec);
  if (!ec) {
    step = "set SO_REUSEADDR";
    acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
  }
  if (!ec && reuseport) {
    step = "set SO_REUSEPORT";
    acceptor->set_option(reuse_port(true), ec);
  }
  if (!ec) {
    // Optional: without it (kernels before 4.18) reads just do not skip anything.
    asio::error_code unsupported;
    acceptor->set_option(report_queued_bytes(true), unsupported);
    step = "bind";
    acceptor->bind(endpoint, ec);
  }
  if (!ec) {
    step = "listen";
    acceptor->listen(backlog, ec);
  }
  if (ec)
    throw BindError(name + ": cannot listen on " + to_string(endpoint) + ": " + step + ": " +
                        ec.message(),
                    ec);
  return acceptor;
}

/// SO_REUSEPORT lets any socket of the same user that sets it too share a port, so a second
/// server started on the same address would bind without an error and silently take half the
/// connections. Binding once without it first fails as it should when the address is taken
/// (and picks the port when it is 0); the sockets that share the port then bind to that.
tcp::endpoint claim_endpoint(asio::io_context& io, const tcp::endpoint& endpoint, const std::string& name) {
  tcp::acceptor probe(io);
  asio::error_code ec;
  probe.open(endpoint.protocol(), ec);
  if (!ec) probe.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) probe.bind(endpoint, ec);
  tcp::endpoint claimed;
  if (!ec) claimed = probe.local_endpoint(ec);
  if (ec) throw BindError(name + ": cannot listen on " + to_string(endpoint) + ": bind: " + ec.message(), ec);
  return claimed;  // the probe closes here, before the sockets that share the port bind
}

/// A client that gave up before we accepted it: nothing is wrong with the listener.
bool peer_gave_up(const std::error_code& ec) {
  return ec == asio::error::connection_aborted || ec == asio::error::connection_reset;
}

/// A connection fiber's function: hands the handler a Conn that reports its close to the
/// listener (open count, log line). Not a coroutine itself: the handler's frame is the
/// connection's only one besides the fiber's own.
Task<void> serve(Context ctx, std::shared_ptr<Listener::State> state, Socket socket) {
  Conn conn(std::move(socket), state);
  spdlog::debug("{} connection from {} opened", state->options.name, conn.peer());
  return state->handler(std::move(ctx), std::move(conn));
}

Task<void> accept_loop(Context ctx, std::shared_ptr<Listener::State> state, unsigned index) {
  tcp::acceptor& acceptor = *state->acceptors[index];
  const auto& opt = state->options;
  const unsigned workers = state->scheduler.thread_count();
  auto backoff = std::chrono::milliseconds(5);
  for (;;) {
    const unsigned target = opt.reuseport ? index : state->next_worker++ % workers;
    std::error_code ec;
    std::optional<Socket> accepted;
    co_await detail::await_asio(
        ctx, std::source_location::current(),
        [&](std::error_code e, auto&&... socket) {  // no socket when ctx was already done
          ec = e;
          if constexpr (sizeof...(socket) == 1) accepted.emplace(std::move(socket)...);
        },
        [&](auto handler) { acceptor.async_accept(state->scheduler.io_context(target), std::move(handler)); });
    if (ctx.done()) break;
    if (ec) {
      if (ec == asio::error::operation_aborted) break;
      state->accept_errors.fetch_add(1, std::memory_order_relaxed);
      std::uint64_t suppressed = 0;
      if (state->error_log.allow(suppressed))
        spdlog::warn("{}: accept failed: {} ({} more since the last report); retrying in {}ms",
                     opt.name, ec.message(), suppressed, peer_gave_up(ec) ? 0 : backoff.count());
      if (!peer_gave_up(ec)) {
        // EMFILE, ENFILE, ENOBUFS, ...: the connection stays in the backlog and retrying at
        // once would only spin; wait, longer each time, until accepting works again.
        co_await sleep(ctx, backoff);
        backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
      }
      continue;
    }
    backoff = std::chrono::milliseconds(5);
    Socket& socket = *accepted;
    if (state->open.load(std::memory_order_relaxed) >= opt.max_connections) {
      state->rejected.fetch_add(1, std::memory_order_relaxed);
      asio::error_code ignored;
      socket.close(ignored);
      std::uint64_t suppressed = 0;
      if (state->reject_log.allow(suppressed))
        spdlog::warn("{}: {} connections open (the maximum): refused one ({} more since the "
                     "last report)",
                     opt.name, opt.max_connections, suppressed);
      continue;
    }
    asio::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    state->open.fetch_add(1, std::memory_order_relaxed);
    state->accepted.fetch_add(1, std::memory_order_relaxed);
    const auto remote = socket.remote_endpoint(ignored);
    std::string name = opt.name + " " + (ignored ? std::string("?") : to_string(remote));
    go(Spawn(state->connections->ctx, std::move(name), target), serve, state, std::move(socket))
        .detach();
  }
  asio::error_code ignored;
  acceptor.close(ignored);
}

}  // namespace

Listener::Listener(Scheduler& scheduler, ListenerOptions options, ConnectionHandler handler)
    : state_(std::make_shared<State>(scheduler, std::move(options), std::move(handler))) {
  auto& opt = state_->options;
  const unsigned count = opt.reuseport ? scheduler.thread_count() : 1;
  auto endpoint = opt.endpoint;
  if (opt.reuseport) endpoint = claim_endpoint(scheduler.io_context(0), endpoint, opt.name);
  for (unsigned i = 0; i < count; ++i) {
    state_->acceptors.push_back(
        open_acceptor(scheduler.io_context(i), endpoint, opt.reuseport, opt.backlog, opt.name));
    // Port 0: the others join the port the first one got.
    if (i == 0) endpoint = state_->acceptors[0]->local_endpoint();
  }
}

Listener::~Listener() {
  stop_accepting();
  cancel_connections();
}

tcp::endpoint Listener::local_endpoint() const { return state_->acceptors[0]->local_endpoint(); }

void Listener::start(const Context& ctx) {
  state_->accepting.emplace(with_cancel(ctx));
  state_->connections.emplace(with_cancel(ctx));
  for (unsigned i = 0; i < state_->acceptors.size(); ++i)
    go(Spawn(state_->accepting->ctx, state_->options.name + " accept", i), accept_loop, state_, i)
        .detach();
}

void Listener::stop_accepting() {
  // The accept loops close their sockets on their own threads (Asio sockets are not
  // thread-safe); cancelling their context aborts the pending accept.
  if (state_->accepting) state_->accepting->cancel();
}

void Listener::cancel_connections() {
  if (state_->connections) state_->connections->cancel();
}

bool Listener::wait_for_connections(std::chrono::steady_clock::time_point deadline) const {
  while (state_->open.load(std::memory_order_acquire) != 0) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

ListenerStats Listener::stats() const {
  return {state_->accepted.load(), state_->rejected.load(), state_->accept_errors.load(),
          state_->open.load()};
}

}  // namespace spindle::tcp
