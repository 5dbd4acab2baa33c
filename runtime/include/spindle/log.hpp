// Logging set-up: spdlog to stderr, as text for people or JSON lines for collectors. Every
// line written from a fiber carries that fiber's id.
#pragma once

#include <spdlog/common.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <span>
#include <string_view>

namespace spindle::log {

enum class Format {
  text,  ///< `2026-11-29 14:00:00.123 info  [fiber 12] message`
  json,  ///< `{"time":"2026-11-29T14:00:00.123Z","level":"info","fiber":12,"msg":"message"}`
};

/// Replaces spdlog's default logger with one writing to stderr in `format` at `level`.
void setup(Format format, spdlog::level::level_enum level);

/// Structured fields for the next lines this thread logs: JSON lines get them as extra
/// members (numbers stay numbers); text lines show only their message, which should say the
/// same in words. Fields are borrowed: keep them alive while the scope is.
class ScopedFields {
 public:
  struct Field {
    std::string_view key;
    std::string_view text;  ///< used when the field is a string
    double number = 0;
    bool is_number = false;
  };
  explicit ScopedFields(std::span<const Field> fields) noexcept;
  ~ScopedFields();
  ScopedFields(const ScopedFields&) = delete;
  ScopedFields& operator=(const ScopedFields&) = delete;
  /// The fields in effect on this thread (empty outside any scope).
  static std::span<const Field> current() noexcept;

 private:
  std::span<const Field> previous_;
};

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
