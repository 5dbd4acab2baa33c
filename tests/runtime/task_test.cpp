// Task<T>: values and exceptions through both ways a task ends (at once, or after waiting),
// a flat stack however many tasks a loop awaits, and the destruction of a leaked fiber's
// whole chain of tasks at shutdown.
#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>

#include "spindle/spindle.hpp"
#include "support/spindle_test.hpp"

TEST_SUITE_BEGIN("runtime");

using namespace spindle;
using namespace std::chrono_literals;

namespace {

Task<int> at_once(int v) { co_return v; }

Task<int> after_a_wait(Context ctx, int v) {
  co_await yield();
  if (auto err = co_await sleep(ctx, 1ms)) throw ContextError(err);
  co_return v;
}

Task<std::unique_ptr<std::string>> move_only(bool wait) {
  if (wait) co_await yield();
  co_return std::make_unique<std::string>("moved");
}

Task<void> throws(bool wait) {
  if (wait) co_await yield();
  throw std::runtime_error(wait ? "after a wait" : "at once");
}

/// Awaits `depth` nested tasks; the innermost waits, then every level ends in one cascade.
Task<int> nested(Context ctx, int depth) {
  if (depth == 0) co_return co_await after_a_wait(ctx, 1);
  co_return 1 + co_await nested(ctx, depth - 1);
}

/// Counts its own destruction: proves a frame was destroyed, not just abandoned.
struct Guard {
  std::atomic<int>* destroyed;
  ~Guard() { destroyed->fetch_add(1); }
};

Task<void> inner_stuck(std::atomic<int>* destroyed) {
  Guard g{destroyed};
  Channel<int> never;
  co_await never.recv(background());  // ignores its context: leaked on purpose
}

Task<void> outer_stuck(Context, std::atomic<int>* destroyed) {
  Guard g{destroyed};
  co_await inner_stuck(destroyed);
}

}  // namespace

SPINDLE_TEST("a task's value and exception reach its awaiter whether it ends at once or after waiting") {
  Scheduler sched({.threads = 1});
  sched.block_on([](Context ctx) -> Task<> {
    CHECK(co_await at_once(7) == 7);
    CHECK(co_await after_a_wait(ctx, 8) == 8);
    CHECK(*co_await move_only(false) == "moved");
    CHECK(*co_await move_only(true) == "moved");
    for (bool wait : {false, true}) {
      std::string what;
      try {
        co_await throws(wait);
      } catch (const std::runtime_error& e) {
        what = e.what();
      }
      CHECK(what == (wait ? "after a wait" : "at once"));
    }
  });
  CHECK(sched.shutdown(1s).empty());
}

SPINDLE_TEST("awaiting many tasks that end at once, or a deep chain that ends together, keeps the stack flat") {
  // Symmetric transfer is a nested call when GCC does not optimise (the sanitizer builds):
  // a task that ends at once must hand back to its awaiter without one.
  Scheduler sched({.threads = 1});
  const long sum = sched.block_on([](Context) -> Task<long> {
    long s = 0;
    for (int i = 0; i < 300'000; ++i) s += co_await at_once(1);
    co_return s;
  });
  CHECK(sum == 300'000);
  CHECK(sched.block_on([](Context ctx) -> Task<int> { co_return co_await nested(ctx, 2'000); }) == 2'001);
  CHECK(sched.shutdown(1s).empty());
}

SPINDLE_TEST("shutdown destroys every task of a leaked fiber's chain, innermost first") {
  std::atomic<int> destroyed{0};
  Scheduler sched({.threads = 2});
  sched.block_on([&destroyed](Context ctx) -> Task<> {
    go({ctx, "chain"}, outer_stuck, &destroyed).detach();
    co_return;
  });
  auto leaks = sched.shutdown(20ms);
  REQUIRE(leaks.size() == 1);
  CHECK(leaks[0].name == "chain");
  CHECK(destroyed.load() == 2);  // both frames' locals ran their destructors
  CHECK(live_fiber_count() == 0);
  CHECK(testing::take_leaks().size() == 1);
}

SPINDLE_TEST("a channel operation that can complete does so without suspending the fiber") {
  // Observable as ordering: a fiber woken meanwhile on the same thread runs only when this
  // one suspends, so it cannot run between a buffered send and the next statement.
  Scheduler sched({.threads = 1});
  sched.block_on([](Context ctx) -> Task<> {
    Channel<int> buffered(4);
    int other_ran = 0;
    auto f = go(ctx, [&other_ran](Context) -> Task<> {
      ++other_ran;
      co_return;
    });
    for (int i = 0; i < 4; ++i) {
      CHECK(!co_await buffered.send(ctx, i));
      CHECK((co_await buffered.recv(ctx)).value() == i);
    }
    CHECK(other_ran == 0);  // queued behind us, not run by any of the eight operations
    co_await yield();
    CHECK(other_ran == 1);
    co_await f.join(ctx);
  });
  CHECK(sched.shutdown(1s).empty());
}

TEST_SUITE_END();
