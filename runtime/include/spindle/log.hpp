// Logging set-up: spdlog to stderr, as text for people or JSON lines for collectors. Every
// line written from a fiber carries that fiber's id.
#pragma once

#include <spdlog/common.h>

#include <atomic>
#include <chrono>
#include <cstdint>

namespace spindle::log {

enum class Format {
  text,  ///< `2026-11-29 14:00:00.123 info  [fiber 12] message`
  json,  ///< `{"time":"2026-11-29T14:00:00.123Z","level":"info","fiber":12,"msg":"message"}`
};

/// Replaces spdlog's default logger with one writing to stderr in `format` at `level`.
void setup(Format format, spdlog::level::level_enum level);

/// The id of the fiber the calling thread runs, or 0 outside fibers.
std::uint64_t current_fiber_id() noexcept;

/// Lets a repeated event be logged at most once per interval, and counts the rest: for
/// conditions that can fire thousands of times a second (refused connections, EMFILE).
class RateLimit {
 public:
  explicit RateLimit(std::chrono::milliseconds interval = std::chrono::seconds(1)) noexcept
      : interval_(interval) {}
  /// True if this occurrence should be logged; then `suppressed` is how many were not
  /// since the last one that was. Safe from any thread.
  bool allow(std::uint64_t& suppressed) noexcept;

 private:
  std::chrono::milliseconds interval_;
  std::atomic<std::int64_t> next_ns_{0};
  std::atomic<std::uint64_t> skipped_{0};
};

}  // namespace spindle::log
