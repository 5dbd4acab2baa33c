// Task<T>: the return type of every fiber function and every spindle await.
#pragma once

#include <asio/awaitable.hpp>

namespace spindle {

/// A C++20 coroutine that a fiber runs: `Task<int> f(Context ctx) { co_return 42; }`.
/// It is Asio's awaitable, so Asio operations can be awaited in it with `asio::use_awaitable`.
template <class T = void>
using Task = asio::awaitable<T>;

}  // namespace spindle
