// The executor every fiber runs on: its worker's io_context executor, tagged with the fiber,
// so the code it resumes knows which fiber it is (for logging, await sites and go()).
#pragma once

#include <asio/execution.hpp>
#include <asio/io_context.hpp>
#include <asio/prefer.hpp>
#include <asio/query.hpp>
#include <asio/require.hpp>
#include <type_traits>
#include <utility>

#include "spindle/detail/fiber_record.hpp"

namespace spindle::detail {

/// Wraps an Asio executor; every function it executes runs with `fiber` as the thread's
/// current fiber. Properties are forwarded to the inner executor, like asio::strand does.
/// It does not own the fiber: it is the executor of a suspended fiber's own pending
/// operation (AsioResume), which the fiber outlives — its bottom frame holds the record, and
/// it cannot end while suspended there; at shutdown the operation is destroyed before the
/// fiber's teardown runs. Asio copies an executor several times per operation, and counting
/// references cost an atomic read-modify-write for each.
template <class Inner>
class BasicFiberExecutor {
 public:
  BasicFiberExecutor(const Inner& inner, FiberRecord* fiber) noexcept : inner_(inner), fiber_(fiber) {}

  template <class Property>
    requires asio::can_query<const Inner&, Property>::value
  decltype(auto) query(const Property& p) const
      noexcept(asio::is_nothrow_query<const Inner&, Property>::value) {
    return asio::query(inner_, p);
  }

  template <class Property>
    requires asio::can_require<const Inner&, Property>::value
  auto require(const Property& p) const
      noexcept(asio::is_nothrow_require<const Inner&, Property>::value) {
    using Result = std::decay_t<typename asio::require_result<const Inner&, Property>::type>;
    return BasicFiberExecutor<Result>(asio::require(inner_, p), fiber_);
  }

  template <class Property>
    requires asio::can_prefer<const Inner&, Property>::value
  auto prefer(const Property& p) const
      noexcept(asio::is_nothrow_prefer<const Inner&, Property>::value) {
    using Result = std::decay_t<typename asio::prefer_result<const Inner&, Property>::type>;
    return BasicFiberExecutor<Result>(asio::prefer(inner_, p), fiber_);
  }

  template <class Function>
  void execute(Function&& f) const {
    asio::execution::execute(inner_, AsFiber<std::decay_t<Function>>{fiber_, std::forward<Function>(f)});
  }

  friend bool operator==(const BasicFiberExecutor& a, const BasicFiberExecutor& b) noexcept {
    return a.inner_ == b.inner_ && a.fiber_ == b.fiber_;
  }
  friend bool operator!=(const BasicFiberExecutor& a, const BasicFiberExecutor& b) noexcept {
    return !(a == b);
  }

  const Inner& inner() const noexcept { return inner_; }
  FiberRecord* fiber() const noexcept { return fiber_; }

 private:
  template <class Function>
  struct AsFiber {
    FiberRecord* fiber;
    Function f;
    void operator()() {
      struct Restore {
        FiberRecord* prev;
        ~Restore() { exchange_current_fiber(prev); }
      } restore{exchange_current_fiber(fiber)};
      f();
    }
  };

  template <class>
  friend class BasicFiberExecutor;
  Inner inner_;
  FiberRecord* fiber_;
};

using FiberExecutor = BasicFiberExecutor<asio::io_context::executor_type>;

}  // namespace spindle::detail
