// The TCP echo service: every byte received is sent back, exactly, until the peer closes.
#pragma once

#include <chrono>

#include "spindle/context.hpp"
#include "spindle/task.hpp"
#include "spindle/tcp/conn.hpp"

namespace spindle::handlers {

struct EchoOptions {
  /// A connection that sends nothing (or does not read what it is sent) this long is
  /// closed; zero means never.
  std::chrono::milliseconds idle_timeout{0};
};

/// Echoes on `conn` until the peer closes, the idle timeout passes, or `ctx` ends. While
/// idle it holds only a 96-byte head for the next message; a larger buffer is borrowed from
/// the thread's pool only while more bytes flow. When the peer half-closes, what was
/// received is sent back and then the connection is closed.
Task<void> echo(Context ctx, tcp::Conn conn, EchoOptions options);

}  // namespace spindle::handlers
