// go(): start a fiber. The spindle spelling of Go's `go f(x)`.
#pragma once

#include <concepts>
#include <functional>
#include <optional>
#include <source_location>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>

#include "spindle/context.hpp"
#include "spindle/detail/fiber_record.hpp"
#include "spindle/detail/park.hpp"
#include "spindle/error.hpp"
#include "spindle/task.hpp"

namespace spindle {

/// Which worker thread a new fiber runs on.
enum class Placement {
  inherit,  ///< the spawning fiber's thread; round robin when spawned outside any fiber
  spread,   ///< round robin over the scheduler's threads
};

/// The first argument of go(): the parent context, an optional name and placement. It
/// records the call site, so `go(ctx, f)` and `go({ctx, "worker 3"}, f)` both know where
/// the fiber came from.
struct Spawn {
  Spawn(Context parent, std::source_location where = std::source_location::current())
      : ctx(std::move(parent)), where(where) {}
  Spawn(Context parent, std::string name,
        std::source_location where = std::source_location::current())
      : ctx(std::move(parent)), name(std::move(name)), where(where) {}
  Spawn(Context parent, std::string name, Placement placement,
        std::source_location where = std::source_location::current())
      : ctx(std::move(parent)), name(std::move(name)), placement(placement), where(where) {}
  /// On worker thread `worker` (modulo the scheduler's thread count).
  Spawn(Context parent, std::string name, unsigned worker,
        std::source_location where = std::source_location::current())
      : ctx(std::move(parent)), name(std::move(name)), worker(static_cast<int>(worker)), where(where) {}

  Context ctx;
  std::string name;  ///< empty: "fiber"
  Placement placement = Placement::inherit;
  int worker = -1;  ///< a worker index, overriding placement; -1: use placement
  std::source_location where;
};

namespace detail {

template <class>
inline constexpr bool is_task = false;
template <class T>
inline constexpr bool is_task<Task<T>> = true;

struct Worker;

/// Where a new fiber runs and who spawned it, resolved from the calling thread and `spawn`.
struct SpawnTarget {
  RunQueue* run_queue;
  std::uint64_t parent_id;
};
/// Throws std::logic_error when no scheduler can run the fiber.
SpawnTarget resolve_spawn(const Spawn& spawn);

/// Registers `rec` and queues `entry` to start on its worker.
void launch(FiberEntry entry, FiberRecord* rec);

/// Unregisters the fiber and publishes its outcome when the body's frame goes away — at the
/// end, or when shutdown destroys a leaked fiber.
class FiberExit {
 public:
  explicit FiberExit(FiberRecord* rec) noexcept : rec_(rec) {}
  ~FiberExit();
  FiberExit(const FiberExit&) = delete;
  FiberExit& operator=(const FiberExit&) = delete;
  void set_error(std::exception_ptr e) noexcept { error_ = std::move(e); }
  void set_finished() noexcept { finished_ = true; }

 private:
  FiberRecord* rec_;
  std::exception_ptr error_;
  bool finished_ = false;
};

/// The function and arguments of a fiber, destroyed explicitly when the function returns
/// so that a joiner never sees the fiber done while its captures are still alive.
template <class Fn, class... Args>
struct Closure {
  template <class F, class... A>
  explicit Closure(F&& f, A&&... a) : parts(std::in_place, std::forward<F>(f), std::forward<A>(a)...) {}
  std::optional<std::tuple<Fn, Args...>> parts;
};

/// The coroutine at the bottom of every fiber. The closure was copied (or moved) into its
/// frame when go() was called, as Go evaluates `go f(x)`'s arguments at once.
template <class T, class Fn, class... Args>
FiberEntry fiber_main(Ref<FiberState<T>> rec, Closure<Fn, Args...> closure) {
  FiberExit exit(rec.get());
  try {
    auto call = [&] {
      return std::apply(
          [&](Fn& fn, Args&... args) {
            return std::invoke(std::move(fn), Context(Ref<ContextNode>(rec)), std::move(args)...);
          },
          *closure.parts);
    };
    if constexpr (std::is_void_v<T>) {
      co_await call();
    } else {
      rec->value.emplace(co_await call());
    }
  } catch (...) {
    exit.set_error(std::current_exception());
  }
  closure.parts.reset();
  exit.set_finished();
}

/// Fiber::join's coroutine; a free function so it never refers to the handle.
template <class T>
Task<T> join_fiber(Ref<FiberState<T>> rec, Context ctx, std::source_location where) {
  if (!rec->finished()) {
    ParkOp op;
    co_await op.suspend(ctx.canceller(), where,
                        [r = rec.get()](ParkOp& o) noexcept { r->add_joiner(o); });
    if (op.result()) throw ContextError(op.result());
  }
  rec->take_error();
  if constexpr (!std::is_void_v<T>) co_return std::move(*rec->value);
}

}  // namespace detail

/// A handle to a fiber started by go(). Dropping it detaches the fiber, which keeps running
/// (like a goroutine), stays registered and stays owned by its context; an exception it ends
/// with is then logged with its name and spawn site.
template <class T = void>
class Fiber {
 public:
  Fiber() noexcept = default;
  explicit Fiber(detail::Ref<detail::FiberState<T>> rec) noexcept : rec_(std::move(rec)) {}
  Fiber(Fiber&&) noexcept = default;
  Fiber& operator=(Fiber&& o) noexcept {
    detach();
    rec_ = std::move(o.rec_);
    return *this;
  }
  ~Fiber() { detach(); }

  /// The fiber's registry id (as shown in logs and the live view); 0 for an empty handle.
  std::uint64_t id() const noexcept { return rec_ ? rec_->id : 0; }
  /// True once the fiber has ended.
  bool done() const noexcept { return rec_ && rec_->finished(); }
  /// Cancels the fiber's context; false if it had already been cancelled.
  bool cancel() noexcept { return rec_ && rec_->cancel(Errc::canceled); }

  /// Waits for the fiber to end and yields its value or rethrows its exception. Throws
  /// ContextError if `ctx` ends first (the fiber keeps running), std::logic_error on a
  /// second join. The returned task holds its own reference to the fiber.
  Task<T> join(Context ctx, std::source_location where = std::source_location::current()) {
    if (!rec_) throw std::logic_error("spindle: join on an empty Fiber handle");
    return detail::join_fiber(rec_, std::move(ctx), where);
  }

  /// Blocks the calling thread, which must not be a scheduler worker, until the fiber ends;
  /// returns its value or rethrows its exception.
  T wait_blocking() {
    if (!rec_) throw std::logic_error("spindle: wait on an empty Fiber handle");
    rec_->wait_blocking();
    rec_->take_error();
    if constexpr (!std::is_void_v<T>) return std::move(*rec_->value);
  }

  /// Lets the fiber run on without a handle.
  void detach() noexcept {
    if (rec_) {
      rec_->detach();
      rec_.reset();
    }
  }

 private:
  detail::Ref<detail::FiberState<T>> rec_;
};

/// Starts `f(ctx, args...)` as a new fiber, where `ctx` is the fiber's own context — a child
/// of `spawn.ctx`, cancelled with it or by the returned handle's cancel(). `f` must return
/// Task<T>. `f` and `args` are copied (or moved) now, so later changes to the caller's
/// variables are not seen. Throws std::logic_error if no scheduler can run it: call it from
/// a fiber, or with a context derived from Scheduler::context().
template <class F, class... Args>
auto go(Spawn spawn, F&& f, Args&&... args) {
  using Fn = std::decay_t<F>;
  using Result = std::invoke_result_t<Fn&&, Context, std::decay_t<Args>&&...>;
  static_assert(detail::is_task<Result>, "spindle::go: the function must return spindle::Task<T>");
  using T = typename Result::value_type;

  auto target = detail::resolve_spawn(spawn);
  detail::Ref<detail::FiberState<T>> rec(
      new detail::FiberState<T>(spawn.ctx.node(),
                                spawn.name.empty() ? std::string_view("fiber") : std::string_view(spawn.name),
                                spawn.where, target.parent_id, target.run_queue),
      detail::adopt_ref);
  rec->attach();
  detail::Closure<Fn, std::decay_t<Args>...> closure(std::forward<F>(f), std::forward<Args>(args)...);
  detail::launch(detail::fiber_main<T>(rec, std::move(closure)), rec.get());
  return Fiber<T>(std::move(rec));
}

}  // namespace spindle
