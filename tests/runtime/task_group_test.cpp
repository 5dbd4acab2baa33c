// TaskGroup: waiting for all, first failure cancels the rest, limits, no orphans.
#include <atomic>
#include <stdexcept>
#include <string>

#include "spindle/spindle.hpp"
#include "support/log_capture.hpp"
#include "support/spindle_test.hpp"

TEST_SUITE_BEGIN("runtime");

using namespace spindle;
using namespace std::chrono_literals;

SPINDLE_TEST("wait() returns once every child has ended") {
  Scheduler sched({.threads = 2});
  sched.block_on([](Context ctx) -> Task<> {
    std::atomic<int> finished{0};
    TaskGroup group(ctx);
    for (int i = 0; i < 20; ++i)
      co_await group.spawn([&finished](Context c, int ms) -> Task<> {
        co_await sleep(c, std::chrono::milliseconds(ms));
        ++finished;
      }, i % 5);
    co_await group.wait();
    CHECK(finished == 20);
    CHECK(group.running() == 0);
    CHECK(group.context().done());  // released after wait, like errgroup's
  });
  CHECK(sched.shutdown(1s).empty());
}

SPINDLE_TEST("the first failure cancels the siblings and is rethrown by wait()") {
  Scheduler sched({.threads = 2});
  sched.block_on([](Context ctx) -> Task<> {
    std::atomic<int> cancelled{0};
    TaskGroup group(ctx);
    for (int i = 0; i < 5; ++i)
      co_await group.spawn([&cancelled](Context c) -> Task<> {
        if (co_await sleep(c, 1h) == Errc::canceled) ++cancelled;
      });
    co_await group.spawn([](Context c) -> Task<> {
      co_await sleep(c, 5ms);
      throw std::runtime_error("disk full");
    });
    const auto start = Clock::now();
    CHECK_THROWS_WITH_AS(co_await group.wait(), "disk full", std::runtime_error);
    CHECK(Clock::now() - start < 1s);
    CHECK(cancelled == 5);
    CHECK_THROWS_WITH(std::rethrow_exception(group.context().cause()), "disk full");
    CHECK_FALSE(ctx.done());  // the parent is untouched
  });
  CHECK(sched.shutdown(1s).empty());
}

SPINDLE_TEST("a limit caps how many children run at once") {
  Scheduler sched({.threads = 2});
  sched.block_on([](Context ctx) -> Task<> {
    std::atomic<int> now{0}, peak{0};
    TaskGroup group(ctx, 3);
    for (int i = 0; i < 12; ++i)
      co_await group.spawn([&](Context c) -> Task<> {
        const int n = ++now;
        for (int p = peak; n > p && !peak.compare_exchange_weak(p, n);) {}
        co_await sleep(c, 3ms);
        --now;
      });
    co_await group.wait();
    CHECK(peak == 3);

    TaskGroup single(ctx, 1);
    CHECK(single.try_spawn([](Context c) -> Task<> { co_await c.wait(); }));
    const bool second = single.try_spawn([](Context) -> Task<> { co_return; });
    CHECK_FALSE(second);  // errgroup's TryGo: the one slot is taken
    single.cancel();
    co_await single.wait();
  });
  CHECK(sched.shutdown(1s).empty());
}

SPINDLE_TEST("a spawn waiting for a slot is released when the group is cancelled") {
  Scheduler sched({.threads = 1});
  sched.block_on([](Context ctx) -> Task<> {
    TaskGroup group(ctx, 1);
    co_await group.spawn([](Context c) -> Task<> { co_await c.wait(); });
    go(ctx, [&group](Context c) -> Task<> {
      co_await sleep(c, 5ms);
      group.cancel();
    }).detach();
    CHECK_THROWS_AS(co_await group.spawn([](Context) -> Task<> { co_return; }), ContextError);
    co_await group.wait();
  });
  CHECK(sched.shutdown(1s).empty());
}

SPINDLE_TEST("a group left without wait() cancels its children and says so") {
  test::LogCapture logs;
  Scheduler sched({.threads = 1});
  sched.block_on([](Context ctx) -> Task<> {
    std::atomic<bool> stopped{false};
    {
      TaskGroup group(ctx, 0, "forgotten");
      co_await group.spawn([&stopped](Context c) -> Task<> {
        co_await c.wait();
        stopped = true;
      });
    }  // no wait(): the child is cancelled, not orphaned
    co_await sleep(ctx, 10ms);
    CHECK(stopped);
  });
  CHECK(sched.shutdown(1s).empty());
  CHECK(logs.text().find("\"forgotten\"") != std::string::npos);
}

TEST_SUITE_END();
