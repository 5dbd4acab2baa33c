// sleep: Go's time.Sleep, aborted at once when the context ends.
#pragma once

#include <chrono>
#include <source_location>
#include <system_error>

#include "spindle/context.hpp"
#include "spindle/task.hpp"

namespace spindle {

/// Suspends the fiber for `duration`. Yields an empty error code when the time passed, or
/// ctx.err() if the context ended first — the timer is cancelled then, not waited out.
Task<std::error_code> sleep(Context ctx, Clock::duration duration,
                            std::source_location where = std::source_location::current());

/// Like sleep(), until `deadline`.
Task<std::error_code> sleep_until(Context ctx, TimePoint deadline,
                                  std::source_location where = std::source_location::current());

}  // namespace spindle
