// Error codes of spindle's runtime: why a context ended, why a wait did not complete.
#pragma once

#include <stdexcept>
#include <system_error>

namespace spindle {

/// Error values in the "spindle" category. Compare a `std::error_code` against them.
enum class Errc {
  canceled = 1,           ///< the context was cancelled (Go: context.Canceled)
  deadline_exceeded = 2,  ///< the context's deadline passed (Go: context.DeadlineExceeded)
  closed = 3,             ///< the channel or object was closed
};

/// The category of `Errc`; its messages follow Go's wording.
const std::error_category& error_category() noexcept;

/// Makes an error code from `Errc`, so `std::error_code ec = Errc::canceled;` works.
inline std::error_code make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

/// Thrown by awaits that return a value (such as `Fiber::join`) when their context ends first.
class ContextError : public std::system_error {
 public:
  explicit ContextError(std::error_code ec) : std::system_error(ec) {}
};

namespace detail {
/// An empty error code to copy: `std::error_code{}` calls std::system_category() out of
/// line, which the hot paths (a channel operation, a WaitGroup wait) would pay every time.
inline const std::error_code no_error{};
}  // namespace detail

}  // namespace spindle

template <>
struct std::is_error_code_enum<spindle::Errc> : std::true_type {};
