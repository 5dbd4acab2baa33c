// The live view of fibers and the leak detector's vocabulary.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <source_location>
#include <string>
#include <vector>

namespace spindle {

/// A snapshot of one live fiber.
struct FiberInfo {
  std::uint64_t id = 0;
  std::uint64_t parent_id = 0;  ///< 0 when spawned outside any fiber
  std::string name;
  std::source_location spawned_at;
  /// The spindle await the fiber is suspended in; line() == 0 when it is not in one.
  std::source_location parked_at;
  std::chrono::nanoseconds age{};
  /// Time left until the fiber's context deadline, if it has one (negative once passed).
  std::optional<std::chrono::nanoseconds> deadline_left;
  bool canceled = false;  ///< its context is done
  unsigned worker = 0;    ///< index of the scheduler thread it runs on
};

/// One line: `fiber 7 "echo 127.0.0.1:5000" spawned at server/tcp/listener.cpp:88 parent 3
/// age 12.5s parked at handlers/echo.cpp:31 (canceled)`.
std::string to_string(const FiberInfo& f);

/// Every fiber alive right now, in all schedulers, ordered by id. Safe from any thread while
/// fibers run elsewhere.
std::vector<FiberInfo> live_fibers();
/// How many fibers are alive right now.
std::size_t live_fiber_count() noexcept;
/// How many fibers were ever spawned in this process.
std::uint64_t spawned_fiber_count() noexcept;
/// How many fibers shutdowns in this process have reported as leaked.
std::uint64_t leaked_fiber_count() noexcept;

/// Fibers meant to outlive shutdown (like goleak's IgnoreTopFunction): fibers matching a rule
/// are neither waited for by shutdown nor reported as leaks.
struct LeakIgnore {
  /// Matches a fiber by exact name.
  static LeakIgnore named(std::string name) { return {std::move(name), {}}; }
  /// Matches by spawn site: "file.cpp" or "file.cpp:42", compared with the end of the path.
  static LeakIgnore spawned_at(std::string site) { return {{}, std::move(site)}; }
  std::string name;
  std::string site;
};

/// Adds a rule to the process-wide ignore list.
void ignore_leaks(LeakIgnore rule);
/// Empties the ignore list.
void clear_leak_ignores();
/// True if a rule of the ignore list matches `f`.
bool leak_ignored(const FiberInfo& f);

}  // namespace spindle
